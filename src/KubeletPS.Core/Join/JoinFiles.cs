using System.Text;
using System.Text.Json;
using KubeletPS.Core.Certificates.Rotation;

namespace KubeletPS.Core.Join;

/// <summary>
/// The files kubeadm join writes for the kubelet, rendered as kubeadm renders them: the bootstrap kubeconfig
/// (CreateWithToken: cluster "kubernetes", user "tls-bootstrap-token-user"), kubeadm's KubeletConfiguration defaults
/// for a cluster that uploaded none (cmd/kubeadm/app/componentconfigs/kubelet.go), and kubeadm-flags.env.
/// </summary>
public static class JoinFiles
{
    public const string ClusterName = "kubernetes";
    public const string TokenUser = "tls-bootstrap-token-user";
    public const string DefaultBootstrapKubeconfigPath = "/etc/kubernetes/bootstrap-kubelet.conf";
    public const string DefaultCACertPath = "/etc/kubernetes/pki/ca.crt";
    public const string DefaultFlagsEnvPath = "/var/lib/kubelet/kubeadm-flags.env";

    private const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>The bootstrap kubeconfig; it holds the token secret, so it is only ever written 0600.</summary>
    internal static string RenderBootstrapKubeconfig(string server, string caPem, BootstrapTokenString token)
    {
        static string Q(string value) => JsonSerializer.Serialize(value);
        var context = $"{TokenUser}@{ClusterName}";
        return $"""
            apiVersion: v1
            clusters:
            - cluster:
                certificate-authority-data: {Convert.ToBase64String(Encoding.ASCII.GetBytes(caPem))}
                server: {Q(server)}
              name: {ClusterName}
            contexts:
            - context:
                cluster: {ClusterName}
                user: {TokenUser}
              name: {context}
            current-context: {context}
            kind: Config
            preferences: {"{}"}
            users:
            - name: {TokenUser}
              user:
                token: {token.Value}

            """;
    }

    /// <summary>kubeadm's kubelet defaults (what its kubelet-config ConfigMap holds on a cluster made with default settings).</summary>
    public static string KubeadmDefaultKubeletConfiguration(string caCertPath, bool systemdResolved) => $"""
        apiVersion: kubelet.config.k8s.io/v1beta1
        kind: KubeletConfiguration
        authentication:
          anonymous:
            enabled: false
          webhook:
            enabled: true
          x509:
            clientCAFile: {JsonSerializer.Serialize(caCertPath)}
        authorization:
          mode: Webhook
        cgroupDriver: systemd
        clusterDNS:
        - 10.96.0.10
        clusterDomain: cluster.local
        healthzBindAddress: 127.0.0.1
        healthzPort: 10248
        {(systemdResolved ? "resolvConf: /run/systemd/resolve/resolv.conf\n" : "")}rotateCertificates: true
        staticPodPath: /etc/kubernetes/manifests

        """;

    /// <summary>kubeadm-flags.env: the per-node flags kubeadm gives the kubelet (the node name when it is not the host name).</summary>
    public static string RenderFlagsEnv(string nodeName, string hostName)
    {
        var flags = new List<string>();
        if (!string.Equals(nodeName, hostName, StringComparison.OrdinalIgnoreCase)) flags.Add($"--hostname-override={nodeName}");
        return $"KUBELET_KUBEADM_ARGS=\"{string.Join(' ', flags)}\"\n";
    }

    /// <summary>A file readable by all (config.yaml, ca.crt, kubeadm-flags.env): written 0600 under a temporary name, renamed, then 0644.</summary>
    internal static void WritePublicFileAtomically(string path, string content)
    {
        KubeletCertificateStore.WritePrivateFileAtomically(path, content);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, Readable);
    }
}
