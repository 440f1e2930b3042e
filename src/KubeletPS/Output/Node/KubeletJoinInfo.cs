using KubeletPS.Core.Join;

namespace KubeletPS.Output;

/// <summary>What Join-KubeletCluster wrote: the files kubeadm join writes for the kubelet, the CA it trusted, the certificate it got.</summary>
public sealed class KubeletJoinInfo
{
    internal KubeletJoinInfo(NodeJoinResult result, string? serviceName, bool? serviceActive)
    {
        NodeName = result.NodeName;
        Server = result.Server;
        CACertHash = result.CACertHash;
        CertificateAuthority = result.CertificateAuthoritySubject;
        CAPinned = result.CAPinned;
        KubeconfigPath = result.KubeconfigPath;
        ConfigPath = result.ConfigPath;
        ConfigSource = result.ConfigFromCluster ? "kubelet-config ConfigMap (kube-system)" : "kubeadm defaults (the cluster has no kubelet-config ConfigMap)";
        CACertPath = result.CACertPath;
        CACertWritten = result.CACertWritten;
        FlagsEnvPath = result.FlagsEnvPath;
        CertificatePath = result.CertificatePath;
        CertificateFile = result.CertificateFile;
        CsrName = result.CsrName;
        CertificateNotAfter = result.CertificateNotAfter?.UtcDateTime;
        ServiceName = serviceName;
        ServiceActive = serviceActive;
    }

    public string NodeName { get; }
    /// <summary>The API server, as the signed cluster-info names it.</summary>
    public string Server { get; }
    /// <summary>The cluster CA's public key pin (sha256:…), as --discovery-token-ca-cert-hash takes it.</summary>
    public string CACertHash { get; }
    /// <summary>The cluster CA's subject.</summary>
    public string CertificateAuthority { get; }
    /// <summary>False when -UnsafeSkipCAVerification trusted the CA on the token's signature alone.</summary>
    public bool CAPinned { get; }
    /// <summary>kubelet.conf, pointing at the client certificate.</summary>
    public string KubeconfigPath { get; }
    /// <summary>The kubelet configuration written (config.yaml).</summary>
    public string ConfigPath { get; }
    /// <summary>Where config.yaml came from.</summary>
    public string ConfigSource { get; }
    public string CACertPath { get; }
    /// <summary>False when ca.crt existed and was kept (kubeadm writes it only when missing).</summary>
    public bool CACertWritten { get; }
    public string FlagsEnvPath { get; }
    /// <summary>kubelet-client-current.pem.</summary>
    public string CertificatePath { get; }
    /// <summary>The dated file the current link points at.</summary>
    public string? CertificateFile { get; }
    public string? CsrName { get; }
    public DateTime? CertificateNotAfter { get; }
    /// <summary>The systemd unit, with -Install.</summary>
    public string? ServiceName { get; }
    /// <summary>Whether the service is active after -Install.</summary>
    public bool? ServiceActive { get; }

    public override string ToString() => $"{NodeName} joined {Server}";
}
