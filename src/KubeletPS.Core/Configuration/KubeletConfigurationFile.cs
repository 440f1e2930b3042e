using KubeletPS.Core.Configuration.Yaml;

namespace KubeletPS.Core.Configuration;

/// <summary>
/// Reads a kubelet.config.k8s.io/v1beta1 KubeletConfiguration file as kubelet does: decode
/// (unknown fields are warnings, type errors are errors with their line), apply the
/// defaults, then resolve relative file paths against the file's folder.
/// </summary>
public static class KubeletConfigurationFile
{
    public static async Task<(KubeletConfiguration Configuration, IReadOnlyList<ConfigWarning> Warnings)> LoadAsync(
        string path, string? root = null, CancellationToken cancellationToken = default)
    {
        var read = await ReadAsync(path, root, cancellationToken).ConfigureAwait(false);
        return (read.Configuration, read.Warnings);
    }

    /// <summary>Reads the file as <see cref="LoadAsync"/> does, also telling which fields it sets that the agent does not act on.</summary>
    public static async Task<ParsedKubeletConfiguration> ReadAsync(string path, string? root = null, CancellationToken cancellationToken = default)
    {
        path = Path.GetFullPath(path);
        var text = await ConfigFiles.ReadAsync(path, "kubelet configuration", cancellationToken).ConfigureAwait(false);
        return ParseWithAudit(text, path, root);
    }

    /// <summary>Parses the text of <paramref name="path"/> into effective values (defaults applied, paths resolved).</summary>
    public static KubeletConfiguration Parse(string text, string path, string? root, out IReadOnlyList<ConfigWarning> warnings)
    {
        var parsed = ParseWithAudit(text, path, root);
        warnings = parsed.Warnings;
        return parsed.Configuration;
    }

    /// <summary>
    /// Parses as <see cref="Parse"/> does, and lists the fields the file sets (not the defaults) that
    /// <see cref="KubeletConfigurationSupport"/> says the agent does not act on.
    /// </summary>
    public static ParsedKubeletConfiguration ParseWithAudit(string text, string path, string? root)
    {
        var document = YamlObjectReader.LoadMapping(path, text);
        // Like kubelet's decoder, know the kind before judging the fields.
        var typeReader = new YamlObjectReader(path);
        CheckTypeMeta(typeReader.Read<TypeMeta>(document), typeReader, path);
        var reader = new YamlObjectReader(path);
        var configuration = reader.Read<KubeletConfiguration>(document);
        var notInEffect = ConfigFieldAudit.NotInEffect(path, document, configuration, KubeletConfigurationSupport.Reason);
        KubeletConfigurationDefaults.Apply(configuration);
        ImagePullFields.Validate(configuration, path);
        ReservationFields.Validate(configuration, path);
        var folder = Path.GetDirectoryName(path)!;
        foreach (var (_, get, set) in configuration.PathFields())
        {
            if (get() is { Length: > 0 } value) set(NodePaths.Resolve(value, folder, root));
        }
        return new ParsedKubeletConfiguration(configuration, reader.Warnings, notInEffect);
    }

    /// <summary>The effective configuration of a kubelet started without a config file.</summary>
    public static KubeletConfiguration Defaults(string? root = null)
    {
        var configuration = new KubeletConfiguration { ApiVersion = KubeletConfiguration.ApiGroupVersion, Kind = KubeletConfiguration.KindName };
        KubeletConfigurationDefaults.Apply(configuration);
        foreach (var (_, get, set) in configuration.PathFields())
        {
            if (get() is { Length: > 0 } value) set(NodePaths.UnderRoot(value, root));
        }
        return configuration;
    }

    private static void CheckTypeMeta(TypeMeta configuration, YamlObjectReader reader, string path)
    {
        const string expected = $"kind \"{KubeletConfiguration.KindName}\" of apiVersion \"{KubeletConfiguration.ApiGroupVersion}\"";
        if (configuration.Kind == "")
        {
            throw new KubeletConfigException($"the file has no kind; expected {expected}.", path, field: "kind");
        }
        if (configuration.Kind != KubeletConfiguration.KindName)
        {
            var hint = configuration.Kind == "Config" ? " This looks like a kubeconfig; pass it to -KubeconfigPath." : "";
            throw reader.Error($"kind is \"{configuration.Kind}\", expected \"{KubeletConfiguration.KindName}\".{hint}", "kind");
        }
        if (configuration.ApiVersion == "")
        {
            throw new KubeletConfigException($"the file has no apiVersion; expected {expected}.", path, field: "apiVersion");
        }
        if (configuration.ApiVersion != KubeletConfiguration.ApiGroupVersion)
        {
            throw reader.Error($"apiVersion is \"{configuration.ApiVersion}\", expected \"{KubeletConfiguration.ApiGroupVersion}\".", "apiVersion");
        }
    }
}

/// <summary>A parsed KubeletConfiguration file: effective values, tolerated problems, and the fields set that are not in effect.</summary>
public sealed record ParsedKubeletConfiguration(
    KubeletConfiguration Configuration, IReadOnlyList<ConfigWarning> Warnings, IReadOnlyList<ConfigFieldNotInEffect> NotInEffect);

internal sealed class TypeMeta
{
    [ConfigField("apiVersion")] public string ApiVersion { get; set; } = "";
    [ConfigField("kind")] public string Kind { get; set; } = "";
}
