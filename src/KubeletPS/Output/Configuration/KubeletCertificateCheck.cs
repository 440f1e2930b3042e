using KubeletPS.Core.Certificates.Checks;

namespace KubeletPS;

/// <summary>One check of Test-KubeletCertificate -Detailed: its name, whether it passed, and why.</summary>
public sealed class KubeletCertificateCheck
{
    internal KubeletCertificateCheck(CertificateCheckResult result, string path)
    {
        Name = result.Name;
        Passed = result.Passed;
        Message = result.Message;
        Path = path;
    }

    /// <summary>KeyMatchesCertificate, ValidAt, ChainsToCA, ClientAuth, NodeIdentity or NotExpiringWithin.</summary>
    public string Name { get; }
    public bool Passed { get; }
    public string Message { get; }
    /// <summary>The certificate checked: a path, or "client-certificate-data embedded in …".</summary>
    public string Path { get; }

    public override string ToString() => $"{Name}: {(Passed ? "passed" : "failed")}: {Message}";
}
