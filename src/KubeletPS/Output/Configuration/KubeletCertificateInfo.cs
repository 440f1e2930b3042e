using KubeletPS.Core.Certificates.Checks;

namespace KubeletPS;

/// <summary>
/// A certificate as Get-KubeletCertificate shows it: what it says, who it makes the node in
/// Kubernetes, and when it runs out. Never key material: only whether a key was found and where.
/// </summary>
public sealed class KubeletCertificateInfo
{
    internal KubeletCertificateInfo(CertificateInfo info)
    {
        Path = info.Source;
        Index = info.Index;
        Subject = info.Subject;
        Issuer = info.Issuer;
        CommonName = info.CommonName;
        Organizations = [.. info.Organizations];
        NodeName = info.NodeName;
        Groups = [.. info.Groups];
        NotBefore = info.NotBefore.UtcDateTime;
        NotAfter = info.NotAfter.UtcDateTime;
        DaysRemaining = info.DaysRemaining;
        KeyAlgorithm = info.KeyAlgorithm;
        KeySize = info.KeySize;
        Curve = info.Curve;
        KeyUsages = [.. info.KeyUsages];
        ExtendedKeyUsages = [.. info.ExtendedKeyUsages];
        DnsNames = [.. info.DnsNames];
        IPAddresses = [.. info.IPAddresses];
        SerialNumber = info.SerialNumber;
        Sha256Fingerprint = info.Sha256Fingerprint;
        SignatureAlgorithm = info.SignatureAlgorithm;
        IsCA = info.IsCA;
        HasPrivateKey = info.HasPrivateKey;
        KeySource = info.KeySource;
    }

    /// <summary>The file (or "client-certificate-data embedded in …") the certificate was read from.</summary>
    public string Path { get; }
    /// <summary>0 for the leaf; 1, 2 … for the certificates after it in a chain file.</summary>
    public int Index { get; }
    public string Subject { get; }
    public string Issuer { get; }
    public string? CommonName { get; }
    public string[] Organizations { get; }
    /// <summary>NAME when the subject is CN=system:node:NAME; otherwise null.</summary>
    public string? NodeName { get; }
    /// <summary>The Kubernetes groups of the user: the subject's organizations (O).</summary>
    public string[] Groups { get; }
    /// <summary>UTC.</summary>
    public DateTime NotBefore { get; }
    /// <summary>UTC.</summary>
    public DateTime NotAfter { get; }
    public int DaysRemaining { get; }
    public string KeyAlgorithm { get; }
    public int KeySize { get; }
    public string? Curve { get; }
    public string[] KeyUsages { get; }
    public string[] ExtendedKeyUsages { get; }
    public string[] DnsNames { get; }
    public string[] IPAddresses { get; }
    public string SerialNumber { get; }
    public string Sha256Fingerprint { get; }
    public string SignatureAlgorithm { get; }
    public bool IsCA { get; }
    public bool HasPrivateKey { get; }
    /// <summary>Where the private key was found (a path), never the key itself.</summary>
    public string? KeySource { get; }

    public override string ToString() => Subject;
}
