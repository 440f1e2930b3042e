using KubeletPS.Core.Configuration;
using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.Core.NodeValidation;

/// <summary>
/// The node a validation run looks at: its kubelet configuration (config.yaml, or kubelet's
/// defaults when there is none), the runtime endpoint it names (or the one given) and the
/// deadline of each runtime call.
/// </summary>
public sealed record NodeValidationTarget(KubeletConfiguration Configuration, string? ConfigFile, string RuntimeEndpoint, TimeSpan RuntimeTimeout)
{
    /// <summary>Each runtime call of a check waits at most this long (a hung runtime fails the check, not the run).</summary>
    public static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Reads <paramref name="configPath"/> (or the node's config.yaml when it exists). A file that
    /// cannot be read leaves kubelet's defaults in place: the Configuration checks report it.
    /// </summary>
    public static async Task<NodeValidationTarget> ResolveAsync(string? configPath, string? runtimeEndpoint, CancellationToken cancellationToken)
    {
        var file = configPath ?? KubeletConfigLoader.DefaultConfigPath;
        var configuration = KubeletConfigurationFile.Defaults();
        string? used = null;
        if (File.Exists(file))
        {
            try
            {
                (configuration, _) = await KubeletConfigurationFile.LoadAsync(file, null, cancellationToken).ConfigureAwait(false);
                used = file;
            }
            catch (KubeletConfigException)
            {
                configuration = KubeletConfigurationFile.Defaults();
            }
        }
        var endpoint = Runtime.Remote.RuntimeEndpoint.Normalize(runtimeEndpoint ?? configuration.ContainerRuntimeEndpoint);
        var timeout = configuration.RuntimeRequestTimeout < CheckTimeout ? configuration.RuntimeRequestTimeout : CheckTimeout;
        return new NodeValidationTarget(configuration, used, endpoint, timeout);
    }
}

/// <summary>The node checks that read the machine and the runtime directly (the others use the cmdlets' own checks).</summary>
public static class NodeValidator
{
    public static async Task<IReadOnlyList<NodeCheckResult>> PreflightAsync(NodeValidationTarget target, NodeHost host, CancellationToken cancellationToken)
    {
        using var runtime = new CriRuntimeClient(target.RuntimeEndpoint, target.RuntimeTimeout);
        var report = await RuntimeConfigReport.ReadAsync(runtime, cancellationToken).ConfigureAwait(false);
        return NodePreflightChecker.Check(host, target.Configuration, target.ConfigFile, report);
    }

    public static async Task<IReadOnlyList<NodeCheckResult>> RuntimeAsync(NodeValidationTarget target, CancellationToken cancellationToken)
    {
        using var runtime = new CriRuntimeClient(target.RuntimeEndpoint, target.RuntimeTimeout);
        var report = await RuntimeConfigReport.ReadAsync(runtime, cancellationToken).ConfigureAwait(false);
        return await NodeRuntimeChecker.CheckAsync(runtime, runtime, report, cancellationToken).ConfigureAwait(false);
    }
}
