using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KubeletPS.Core.Certificates;

/// <summary>
/// Finds the client certificate, key and cluster CA a kubeconfig names, as the kubelet does:
/// current-context → its cluster's certificate-authority(-data) and its user's
/// client-certificate(-data) / client-key(-data); relative paths resolve against the
/// kubeconfig's folder.
/// </summary>
/// <remarks>
/// A stop-gap, kept to this one file: the shared kubeconfig reader (Configuration/) replaces
/// it at merge time. It reads only what a certificate check needs.
/// </remarks>
internal static class KubeconfigCredentialSource
{
    public const string DefaultKubeconfigPath = "/etc/kubernetes/kubelet.conf";

    /// <param name="requireClientCertificate">
    /// False when only the cluster CA is wanted: a user without a client certificate (token,
    /// exec plugin) is then no error.
    /// </param>
    public static async Task<CertificateSources> ReadAsync(string kubeconfigPath, bool requireClientCertificate, CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(kubeconfigPath);
        string text;
        try
        {
            text = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CertificateException(CertificateProblem.FileNotFound, path, "the kubeconfig does not exist.", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new CertificateException(CertificateProblem.FileUnreadable, path, "permission denied reading the kubeconfig.", e);
        }

        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new KubeletConfigException($"not valid YAML: {e.Message}", path, (int)e.Start.Line, (int)e.Start.Column, inner: e);
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new KubeletConfigException("the kubeconfig is empty or not a mapping.", path);
        }

        var contextName = Scalar(root, "current-context");
        var contexts = Sequence(root, "contexts");
        if (string.IsNullOrEmpty(contextName))
        {
            // clientcmd has no default context; a single one is unambiguous enough to use.
            if (contexts.Count != 1) throw new KubeletConfigException("current-context is not set.", path, field: "current-context");
            contextName = Scalar(contexts[0], "name");
        }
        var context = Named(contexts, contextName, "contexts", path, "context");
        var clusterName = Scalar(context, "cluster");
        var userName = Scalar(context, "user");
        var cluster = Named(Sequence(root, "clusters"), clusterName, "clusters", path, "cluster");
        var user = Named(Sequence(root, "users"), userName, "users", path, "user");
        var directory = Path.GetDirectoryName(path)!;

        var certificate = Source(user, "client-certificate", path, directory, $"users[{userName}].user");
        if (certificate is null && requireClientCertificate)
        {
            throw new KubeletConfigException(
                $"user '{userName}' has neither client-certificate nor client-certificate-data: it does not authenticate with a certificate.",
                path, Line(user), field: $"users[{userName}].user.client-certificate");
        }
        var key = Source(user, "client-key", path, directory, $"users[{userName}].user");
        var authority = Source(cluster, "certificate-authority", path, directory, $"clusters[{clusterName}].cluster");
        return new CertificateSources(certificate, key, authority);
    }

    private static PemSource? Source(YamlMappingNode node, string field, string kubeconfig, string directory, string where)
    {
        var data = Scalar(node, field + "-data");
        if (!string.IsNullOrEmpty(data))
        {
            try
            {
                return PemSource.FromData(Convert.FromBase64String(data), $"{field}-data embedded in {kubeconfig}");
            }
            catch (FormatException e)
            {
                throw new KubeletConfigException($"{field}-data is not valid base64.", kubeconfig, Line(node), field: $"{where}.{field}-data", inner: e);
            }
        }
        var file = Scalar(node, field);
        return string.IsNullOrEmpty(file) ? null : PemSource.FromFile(Path.Combine(directory, file));
    }

    private static YamlMappingNode Named(IReadOnlyList<YamlMappingNode> items, string? name, string list, string path, string inner)
    {
        var match = items.FirstOrDefault(i => Scalar(i, "name") == name)
            ?? throw new KubeletConfigException($"{list} has no entry named '{name}'.", path, field: list);
        return match.Children.TryGetValue(new YamlScalarNode(inner), out var value) && value is YamlMappingNode mapping
            ? mapping
            : throw new KubeletConfigException($"{list}[{name}] has no '{inner}' mapping.", path, Line(match), field: $"{list}[{name}].{inner}");
    }

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlScalarNode scalar ? scalar.Value : null;

    private static IReadOnlyList<YamlMappingNode> Sequence(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlSequenceNode sequence
            ? sequence.Children.OfType<YamlMappingNode>().ToList()
            : [];

    private static int Line(YamlNode node) => (int)node.Start.Line;
}
