using KubeletPS.Core.Configuration.Yaml;

namespace KubeletPS.Core.Configuration.Clientcmd;

/// <summary>
/// Reads a kubeconfig and resolves one context (the current one unless named) to a
/// <see cref="Kubeconfig"/>: errors carry file, line and column; relative certificate, key
/// and token paths are resolved against the kubeconfig's folder, as kubectl does.
/// </summary>
public static class KubeconfigLoader
{
    public static async Task<Kubeconfig> LoadAsync(string path, string? context = null, string? root = null,
        CancellationToken cancellationToken = default) =>
        (await LoadWithWarningsAsync(path, context, root, cancellationToken).ConfigureAwait(false)).Kubeconfig;

    public static async Task<(Kubeconfig Kubeconfig, IReadOnlyList<ConfigWarning> Warnings)> LoadWithWarningsAsync(
        string path, string? context = null, string? root = null, CancellationToken cancellationToken = default)
    {
        path = System.IO.Path.GetFullPath(path);
        var text = await ConfigFiles.ReadAsync(path, "kubeconfig", cancellationToken).ConfigureAwait(false);
        var kubeconfig = Parse(text, path, context, root, out var warnings);
        return (kubeconfig, warnings);
    }

    /// <summary>Parses kubeconfig text that was read from <paramref name="path"/> (used for messages and relative paths).</summary>
    public static Kubeconfig Parse(string text, string path, string? context, string? root, out IReadOnlyList<ConfigWarning> warnings)
    {
        var reader = new YamlObjectReader(path);
        var document = YamlObjectReader.LoadMapping(path, text);
        var file = reader.Read<KubeconfigFile>(document);
        warnings = reader.Warnings;

        if (file.Kind != "" && file.Kind != "Config")
        {
            throw reader.Error($"kind is \"{file.Kind}\", expected \"Config\" (a kubeconfig)"
                + (file.Kind == KubeletConfiguration.KindName ? "; this is a kubelet configuration file, pass it to -Path." : "."), "kind");
        }
        if (file.ApiVersion != "" && file.ApiVersion != "v1")
        {
            throw reader.Error($"apiVersion is \"{file.ApiVersion}\", expected \"v1\".", "apiVersion");
        }

        var contextName = string.IsNullOrEmpty(context) ? file.CurrentContext : context;
        if (string.IsNullOrEmpty(contextName))
        {
            throw new KubeletConfigException("the kubeconfig has no current-context; name a context.", path, field: "current-context");
        }
        var contexts = file.Contexts ?? [];
        var contextIndex = contexts.FindIndex(c => c.Name == contextName);
        if (contextIndex < 0)
        {
            var message = $"context \"{contextName}\" is not in the kubeconfig (contexts: {List(contexts.Select(c => c.Name))}).";
            throw string.IsNullOrEmpty(context) ? reader.Error(message, "current-context") : new KubeletConfigException(message, path, field: "contexts");
        }
        var ctx = contexts[contextIndex].Context;
        var contextPath = $"contexts[{contextIndex}].context";

        var clusters = file.Clusters ?? [];
        var cluster = clusters.Find(c => c.Name == ctx.Cluster)?.Cluster
            ?? throw reader.Error($"cluster \"{ctx.Cluster}\" named by context \"{contextName}\" is not in the kubeconfig (clusters: {List(clusters.Select(c => c.Name))}).",
                $"{contextPath}.cluster");
        if (string.IsNullOrEmpty(cluster.Server))
        {
            throw reader.Error($"cluster \"{ctx.Cluster}\" has no server.", $"clusters[{clusters.FindIndex(c => c.Name == ctx.Cluster)}].cluster");
        }

        var user = new KubeconfigUser();
        if (!string.IsNullOrEmpty(ctx.User))
        {
            var users = file.Users ?? [];
            user = users.Find(u => u.Name == ctx.User)?.User
                ?? throw reader.Error($"user \"{ctx.User}\" named by context \"{contextName}\" is not in the kubeconfig (users: {List(users.Select(u => u.Name))}).",
                    $"{contextPath}.user");
        }

        var folder = System.IO.Path.GetDirectoryName(path)!;
        string? Resolve(string value) => string.IsNullOrEmpty(value) ? null : NodePaths.Resolve(value, folder, root);
        return new Kubeconfig(path, contextName, ctx.Cluster, ctx.User)
        {
            Namespace = ctx.Namespace,
            Server = cluster.Server,
            TlsServerName = cluster.TlsServerName,
            ProxyUrl = cluster.ProxyUrl,
            InsecureSkipTlsVerify = cluster.InsecureSkipTlsVerify,
            CertificateAuthorityFile = Resolve(cluster.CertificateAuthority),
            CertificateAuthorityData = cluster.CertificateAuthorityData,
            ClientCertificateFile = Resolve(user.ClientCertificate),
            ClientCertificateData = user.ClientCertificateData,
            ClientKeyFile = Resolve(user.ClientKey),
            ClientKeyData = user.ClientKeyData,
            Token = string.IsNullOrEmpty(user.Token) ? null : user.Token,
            TokenFile = Resolve(user.TokenFile),
            ExternalAuthentication = user.Exec is not null ? "exec" : user.AuthProvider is not null ? "auth-provider" : null,
        };
    }

    private static string List(IEnumerable<string> names)
    {
        var all = names.Select(n => $"\"{n}\"").ToList();
        return all.Count == 0 ? "none" : string.Join(", ", all);
    }
}
