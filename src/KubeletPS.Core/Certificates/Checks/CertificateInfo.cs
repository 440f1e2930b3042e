using System.Net;
using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Nist;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.X509;
using Org.BouncyCastle.X509.Extension;

namespace KubeletPS.Core.Certificates.Checks;

/// <summary>
/// What a certificate says, as `openssl x509 -noout -text` would show it, plus the Kubernetes
/// reading of its subject (CN system:node:NAME → node NAME; O → groups). Never key material:
/// <see cref="KeySource"/> says where the private key was found, not what it is.
/// </summary>
public sealed record CertificateInfo
{
    public required string Source { get; init; }
    /// <summary>Position in the file: 0 is the leaf, then intermediates.</summary>
    public required int Index { get; init; }
    public required string Subject { get; init; }
    public required string Issuer { get; init; }
    public string? CommonName { get; init; }
    public required IReadOnlyList<string> Organizations { get; init; }
    /// <summary>NAME when the common name is system:node:NAME.</summary>
    public string? NodeName { get; init; }
    /// <summary>The Kubernetes groups the API server derives: the subject's organizations.</summary>
    public required IReadOnlyList<string> Groups { get; init; }
    public required DateTimeOffset NotBefore { get; init; }
    public required DateTimeOffset NotAfter { get; init; }
    /// <summary>Whole days from the evaluation time to NotAfter; negative once expired.</summary>
    public required int DaysRemaining { get; init; }
    /// <summary>EC, RSA, Ed25519 …</summary>
    public required string KeyAlgorithm { get; init; }
    public required int KeySize { get; init; }
    /// <summary>P-256, P-384 … for EC keys.</summary>
    public string? Curve { get; init; }
    public required IReadOnlyList<string> KeyUsages { get; init; }
    /// <summary>ClientAuth, ServerAuth … for known purposes, the dotted OID otherwise.</summary>
    public required IReadOnlyList<string> ExtendedKeyUsages { get; init; }
    public required IReadOnlyList<string> DnsNames { get; init; }
    public required IReadOnlyList<string> IPAddresses { get; init; }
    /// <summary>Upper-case hex, as `openssl x509 -serial` prints it.</summary>
    public required string SerialNumber { get; init; }
    /// <summary>Colon-separated upper-case hex of SHA-256 over the DER, as `openssl x509 -fingerprint -sha256`.</summary>
    public required string Sha256Fingerprint { get; init; }
    public required string SignatureAlgorithm { get; init; }
    public required bool IsCA { get; init; }
    public required bool HasPrivateKey { get; init; }
    public string? KeySource { get; init; }

    internal static CertificateInfo From(X509Certificate certificate, string source, int index, DateTimeOffset at, string? keySource)
    {
        var subject = certificate.SubjectDN;
        var commonName = subject.GetValueList(X509Name.CN).LastOrDefault();
        var organizations = subject.GetValueList(X509Name.O).ToArray();
        var (algorithm, size, curve) = DescribePublicKey(certificate.GetPublicKey());
        var (dnsNames, ipAddresses) = SubjectAlternativeNames(certificate);
        var notAfter = new DateTimeOffset(DateTime.SpecifyKind(certificate.NotAfter, DateTimeKind.Utc));
        return new CertificateInfo
        {
            Source = source,
            Index = index,
            Subject = FormatName(subject),
            Issuer = FormatName(certificate.IssuerDN),
            CommonName = commonName,
            Organizations = organizations,
            NodeName = NodeNameOf(commonName),
            Groups = organizations,
            NotBefore = new DateTimeOffset(DateTime.SpecifyKind(certificate.NotBefore, DateTimeKind.Utc)),
            NotAfter = notAfter,
            DaysRemaining = DaysBetween(at, notAfter),
            KeyAlgorithm = algorithm,
            KeySize = size,
            Curve = curve,
            KeyUsages = KeyUsageNames(certificate),
            ExtendedKeyUsages = ExtendedKeyUsageNames(certificate),
            DnsNames = dnsNames,
            IPAddresses = ipAddresses,
            SerialNumber = FormatSerial(certificate),
            Sha256Fingerprint = Fingerprint(certificate),
            SignatureAlgorithm = certificate.SigAlgName,
            IsCA = certificate.GetBasicConstraints() >= 0,
            HasPrivateKey = keySource is not null,
            KeySource = keySource,
        };
    }

    internal const string NodeUserPrefix = "system:node:";
    internal const string NodesGroup = "system:nodes";

    internal static string? NodeNameOf(string? commonName) =>
        commonName is not null && commonName.StartsWith(NodeUserPrefix, StringComparison.Ordinal) && commonName.Length > NodeUserPrefix.Length
            ? commonName[NodeUserPrefix.Length..]
            : null;

    internal static int DaysBetween(DateTimeOffset from, DateTimeOffset to) => (int)Math.Floor((to - from).TotalDays);

    /// <summary>"O=system:nodes, CN=system:node:node-1", in encoded order as openssl prints it.</summary>
    internal static string FormatName(X509Name name)
    {
        var oids = name.GetOidList();
        var values = name.GetValueList();
        var parts = new List<string>(oids.Count);
        for (var i = 0; i < oids.Count; i++)
        {
            var key = X509Name.DefaultSymbols.TryGetValue(oids[i], out var symbol) ? symbol : oids[i].Id;
            parts.Add($"{key}={values[i]}");
        }
        return string.Join(", ", parts);
    }

    internal static (string Algorithm, int Size, string? Curve) DescribePublicKey(AsymmetricKeyParameter key) => key switch
    {
        ECPublicKeyParameters ec => ("EC", ec.Parameters.Curve.FieldSize, CurveName(ec)),
        RsaKeyParameters rsa => ("RSA", rsa.Modulus.BitLength, null),
        Ed25519PublicKeyParameters => ("Ed25519", 256, null),
        Ed448PublicKeyParameters => ("Ed448", 456, null),
        DsaPublicKeyParameters dsa => ("DSA", dsa.Parameters.P.BitLength, null),
        _ => (key.GetType().Name.Replace("PublicKeyParameters", "").Replace("KeyParameters", ""), 0, null),
    };

    private static string? CurveName(ECPublicKeyParameters key)
    {
        if (key.PublicKeyParamSet is { } oid)
        {
            return NistNamedCurves.GetName(oid) ?? ECNamedCurveTable.GetName(oid) ?? oid.Id;
        }
        return null;
    }

    private static readonly string[] KeyUsageBitNames =
        ["DigitalSignature", "NonRepudiation", "KeyEncipherment", "DataEncipherment", "KeyAgreement",
         "KeyCertSign", "CrlSign", "EncipherOnly", "DecipherOnly"];

    private static string[] KeyUsageNames(X509Certificate certificate)
    {
        var bits = certificate.GetKeyUsage();
        if (bits is null) return [];
        return bits.Select((set, i) => set && i < KeyUsageBitNames.Length ? KeyUsageBitNames[i] : null).OfType<string>().ToArray();
    }

    internal static readonly IReadOnlyDictionary<string, string> ExtendedKeyUsageNamesByOid = new Dictionary<string, string>
    {
        ["1.3.6.1.5.5.7.3.1"] = "ServerAuth",
        ["1.3.6.1.5.5.7.3.2"] = "ClientAuth",
        ["1.3.6.1.5.5.7.3.3"] = "CodeSigning",
        ["1.3.6.1.5.5.7.3.4"] = "EmailProtection",
        ["1.3.6.1.5.5.7.3.8"] = "TimeStamping",
        ["1.3.6.1.5.5.7.3.9"] = "OcspSigning",
        ["2.5.29.37.0"] = "Any",
    };

    internal const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";
    internal const string AnyExtendedKeyUsageOid = "2.5.29.37.0";

    /// <summary>The EKU OIDs, or null when the certificate has no EKU extension.</summary>
    internal static IReadOnlyList<string>? ExtendedKeyUsageOids(X509Certificate certificate) =>
        certificate.GetExtendedKeyUsage()?.Select(o => o.Id).ToArray();

    private static string[] ExtendedKeyUsageNames(X509Certificate certificate) =>
        (ExtendedKeyUsageOids(certificate) ?? [])
            .Select(oid => ExtendedKeyUsageNamesByOid.TryGetValue(oid, out var name) ? name : oid)
            .ToArray();

    private static (string[] DnsNames, string[] IPAddresses) SubjectAlternativeNames(X509Certificate certificate)
    {
        var extension = certificate.GetExtensionValue(X509Extensions.SubjectAlternativeName);
        if (extension is null) return ([], []);
        var names = GeneralNames.GetInstance(X509ExtensionUtilities.FromExtensionValue(extension)).GetNames();
        var dns = new List<string>();
        var ips = new List<string>();
        foreach (var name in names)
        {
            switch (name.TagNo)
            {
                case GeneralName.DnsName:
                    dns.Add(DerIA5String.GetInstance(name.Name).GetString());
                    break;
                case GeneralName.IPAddress:
                    var bytes = Asn1OctetString.GetInstance(name.Name).GetOctets();
                    ips.Add(bytes.Length is 4 or 16 ? new IPAddress(bytes).ToString() : Convert.ToHexString(bytes));
                    break;
            }
        }
        return (dns.ToArray(), ips.ToArray());
    }

    private static string FormatSerial(X509Certificate certificate)
    {
        var hex = certificate.SerialNumber.ToString(16).ToUpperInvariant();
        return hex.Length % 2 == 1 ? "0" + hex : hex;
    }

    internal static string Fingerprint(X509Certificate certificate)
    {
        var hash = SHA256.HashData(certificate.GetEncoded());
        var text = new StringBuilder(hash.Length * 3);
        foreach (var b in hash)
        {
            if (text.Length > 0) text.Append(':');
            text.Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return text.ToString();
    }
}
