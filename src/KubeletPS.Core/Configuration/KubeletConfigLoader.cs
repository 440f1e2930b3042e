using KubeletPS.Core.Configuration.Clientcmd;

namespace KubeletPS.Core.Configuration;

/// <summary>What <see cref="KubeletConfigLoader.LoadAsync"/> found: effective values, the kubeconfig and the warnings.</summary>
public sealed class LoadedKubeletConfig
{
    internal LoadedKubeletConfig(string? configPath, KubeletConfiguration configuration, Kubeconfig? kubeconfig,
        string? kubeconfigPath, IReadOnlyList<ConfigWarning> warnings, IReadOnlyList<ConfigFieldNotInEffect> notInEffect)
    {
        ConfigPath = configPath;
        Configuration = configuration;
        Kubeconfig = kubeconfig;
        KubeconfigPath = kubeconfigPath;
        Warnings = warnings;
        NotInEffect = notInEffect;
    }

    /// <summary>The config file read, or null when there was none and kubelet's defaults apply.</summary>
    public string? ConfigPath { get; }

    /// <summary>The effective configuration: kubelet's defaults applied, file paths resolved.</summary>
    public KubeletConfiguration Configuration { get; }

    /// <summary>The kubeconfig's current context, or null when no kubeconfig was read.</summary>
    public Kubeconfig? Kubeconfig { get; }

    public string? KubeconfigPath { get; }
    public IReadOnlyList<ConfigWarning> Warnings { get; }
    public IReadOnlyList<ConfigWarning> UnknownFields => Warnings.Where(w => w.IsUnknownField).ToList();

    /// <summary>The fields the config file sets that the agent does not act on (none without a file: defaults are never listed).</summary>
    public IReadOnlyList<ConfigFieldNotInEffect> NotInEffect { get; }

    /// <summary>
    /// Writes one warning per field in <see cref="NotInEffect"/>, with the file, line and reason:
    /// what an agent does once when it starts, so no setting is believed that has no effect.
    /// </summary>
    public void WarnNotInEffect(IKubeletLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        foreach (var field in NotInEffect) log.Warning(field.ToString());
    }
}

/// <summary>
/// The one entry point for a node's kubelet configuration: /var/lib/kubelet/config.yaml and
/// /etc/kubernetes/kubelet.conf unless told otherwise, under <c>root</c> for a mounted image.
/// </summary>
public static class KubeletConfigLoader
{
    public const string DefaultConfigPath = KubeletConfigurationDefaults.DefaultRootDirectory + "/config.yaml";
    public const string DefaultKubeconfigPath = "/etc/kubernetes/kubelet.conf";

    /// <summary>
    /// Loads the kubelet configuration and kubeconfig. A path given explicitly must exist. With
    /// neither path given both default files must exist. With only one given, the other's
    /// default file may be missing: a missing config file means kubelet's defaults (kubelet runs
    /// without one), a missing kubeconfig means no API server (standalone kubelet).
    /// </summary>
    public static async Task<LoadedKubeletConfig> LoadAsync(string? configPath, string? kubeconfigPath, string? root,
        CancellationToken cancellationToken = default, IKubeletLog? log = null)
    {
        log ??= NullKubeletLog.Instance;
        var anyGiven = configPath is not null || kubeconfigPath is not null;
        var warnings = new List<ConfigWarning>();
        IReadOnlyList<ConfigFieldNotInEffect> notInEffect = [];

        KubeletConfiguration configuration;
        var configFile = configPath is null ? NodePaths.UnderRoot(DefaultConfigPath, root) : Path.GetFullPath(configPath);
        if (configPath is null && anyGiven && !File.Exists(configFile))
        {
            log.Info($"No kubelet configuration file at '{configFile}': kubelet's defaults apply.");
            configuration = KubeletConfigurationFile.Defaults(root);
            configFile = null;
        }
        else
        {
            log.Info($"Reading the kubelet configuration '{configFile}'.");
            var read = await KubeletConfigurationFile.ReadAsync(configFile, root, cancellationToken).ConfigureAwait(false);
            configuration = read.Configuration;
            warnings.AddRange(read.Warnings);
            notInEffect = read.NotInEffect;
        }

        Kubeconfig? kubeconfig = null;
        var kubeconfigFile = kubeconfigPath is null ? NodePaths.UnderRoot(DefaultKubeconfigPath, root) : Path.GetFullPath(kubeconfigPath);
        if (kubeconfigPath is null && anyGiven && !File.Exists(kubeconfigFile))
        {
            log.Info($"No kubeconfig at '{kubeconfigFile}': the kubelet would run standalone.");
            kubeconfigFile = null;
        }
        else
        {
            log.Info($"Reading the kubeconfig '{kubeconfigFile}'.");
            var (loaded, kubeconfigWarnings) = await KubeconfigLoader.LoadWithWarningsAsync(kubeconfigFile, null, root, cancellationToken).ConfigureAwait(false);
            kubeconfig = loaded;
            warnings.AddRange(kubeconfigWarnings);
        }

        foreach (var warning in warnings) log.Warning(warning.ToString());
        return new LoadedKubeletConfig(configFile, configuration, kubeconfig, kubeconfigFile, warnings, notInEffect);
    }
}
