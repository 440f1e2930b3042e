using System.Text;
using System.Text.Json;
using KubeletPS.Core.Certificates.Rotation;
using KubeletPS.Core.Configuration.Clientcmd;

namespace KubeletPS.Core.Certificates.Bootstrap;

/// <summary>
/// The kubelet.conf that bootstrap.go writeKubeconfigFromBootstrapping writes: cluster "default-cluster" with the
/// bootstrap kubeconfig's server, CA (file or data) and insecure flag; user "default-auth" whose client certificate and
/// key are both the current pem link; context "default-context" (namespace default), current. Mode 0600, written
/// atomically so a reader never sees half a file.
/// </summary>
public static class KubeletClientKubeconfig
{
    public const string ClusterName = "default-cluster";
    public const string UserName = "default-auth";
    public const string ContextName = "default-context";

    public static string Render(Kubeconfig bootstrap, string pemPath)
    {
        // JSON strings are YAML double-quoted scalars: paths and URLs need no further escaping.
        static string Q(string value) => JsonSerializer.Serialize(value);
        var cluster = new StringBuilder();
        if (bootstrap.CertificateAuthorityFile is { } caFile) cluster.Append(System.Globalization.CultureInfo.InvariantCulture, $"    certificate-authority: {Q(caFile)}\n");
        else if (bootstrap.CertificateAuthorityData is { } caData) cluster.Append(System.Globalization.CultureInfo.InvariantCulture, $"    certificate-authority-data: {Convert.ToBase64String(caData)}\n");
        if (bootstrap.InsecureSkipTlsVerify) cluster.Append("    insecure-skip-tls-verify: true\n");
        cluster.Append(System.Globalization.CultureInfo.InvariantCulture, $"    server: {Q(bootstrap.Server)}\n");
        return $"""
            apiVersion: v1
            clusters:
            - cluster:
            {cluster.ToString().TrimEnd('\n')}
              name: {ClusterName}
            contexts:
            - context:
                cluster: {ClusterName}
                namespace: default
                user: {UserName}
              name: {ContextName}
            current-context: {ContextName}
            kind: Config
            preferences: {"{}"}
            users:
            - name: {UserName}
              user:
                client-certificate: {Q(pemPath)}
                client-key: {Q(pemPath)}

            """;
    }

    public static void Write(string kubeconfigPath, Kubeconfig bootstrap, string pemPath) =>
        KubeletCertificateStore.WritePrivateFileAtomically(kubeconfigPath, Render(bootstrap, pemPath));
}
