using KubeletPS.Core.Certificates.Bootstrap;
using KubeletPS.Core.Certificates.Rotation;

namespace KubeletPS.Output;

/// <summary>What Request-KubeletCertificate did: bootstrapped through a CSR, or kept the valid certificate kubelet.conf names.</summary>
public sealed class KubeletCertificateRequestInfo
{
    internal KubeletCertificateRequestInfo(CertificateBootstrapResult result)
    {
        Bootstrapped = result.Bootstrapped;
        Reason = result.Reason;
        KubeconfigPath = result.KubeconfigPath;
        CertificatePath = result.CertificatePath;
        CertificateFile = result.CertificateFile;
        CsrName = result.CsrName;
        Subject = result.Subject;
        NotBefore = result.NotBefore?.UtcDateTime;
        NotAfter = result.NotAfter?.UtcDateTime;
    }

    /// <summary>A kubelet-serving certificate requested with -Serving: written to kubelet-server-current.pem.</summary>
    internal KubeletCertificateRequestInfo(KubeletCertificateRotation rotation, string kubeconfigPath)
    {
        Bootstrapped = true;
        Reason = "-Serving: a kubelet-serving certificate was requested";
        KubeconfigPath = kubeconfigPath;
        CertificatePath = rotation.CurrentPath;
        CertificateFile = rotation.CertificateFile;
        CsrName = rotation.CsrName;
        Subject = rotation.Subject;
        NotBefore = rotation.NotBefore.UtcDateTime;
        NotAfter = rotation.NotAfter.UtcDateTime;
    }

    /// <summary>True when a new certificate was obtained; false when the current one was kept.</summary>
    public bool Bootstrapped { get; }
    /// <summary>Why bootstrap ran (kubelet.conf missing, certificate expired, -Force) or why it did not.</summary>
    public string Reason { get; }
    public string KubeconfigPath { get; }
    /// <summary>The certificate kubelet.conf names: kubelet-client-current.pem after a bootstrap (kubelet-server-current.pem with -Serving).</summary>
    public string? CertificatePath { get; }
    /// <summary>The dated file the current link points at (kubelet-client-YYYY-MM-DD-HH-MM-SS.pem).</summary>
    public string? CertificateFile { get; }
    /// <summary>The CertificateSigningRequest (node-csr-…), when one was sent.</summary>
    public string? CsrName { get; }
    public string? Subject { get; }
    public DateTime? NotBefore { get; }
    public DateTime? NotAfter { get; }

    public override string ToString() => Bootstrapped ? $"{Subject} via {CsrName}" : $"kept {KubeconfigPath}: {Reason}";
}
