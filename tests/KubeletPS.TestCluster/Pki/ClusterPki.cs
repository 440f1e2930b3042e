using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace KubeletPS.TestCluster.Pki;

/// <summary>Key algorithms the test PKI can issue, shaped like kubeadm's choices.</summary>
public enum TestKeyType { EcP256, Rsa2048 }

/// <summary>How a private key is written to PEM (the encodings a kubelet meets on real nodes).</summary>
public enum TestKeyEncoding { Sec1, Pkcs8, Pkcs1, EncryptedPkcs8 }

/// <summary>What to put in an issued certificate.</summary>
public sealed record CertificateSpec(string CommonName)
{
    public IReadOnlyList<string> Organizations { get; init; } = [];
    public bool ClientAuth { get; init; } = true;
    public bool ServerAuth { get; init; }
    public IReadOnlyList<string> DnsNames { get; init; } = [];
    public IReadOnlyList<IPAddress> IpAddresses { get; init; } = [];
    public DateTimeOffset? NotBefore { get; init; }
    public DateTimeOffset? NotAfter { get; init; }
    public TestKeyType KeyType { get; init; } = TestKeyType.EcP256;
}

/// <summary>An issued certificate with its private key.</summary>
public sealed class IssuedCertificate(X509Certificate2 certificate, AsymmetricAlgorithm key)
{
    public X509Certificate2 Certificate { get; } = certificate;
    public AsymmetricAlgorithm Key { get; } = key;

    public string CertificatePem => Certificate.ExportCertificatePem() + "\n";

    public string KeyPem(TestKeyEncoding encoding = TestKeyEncoding.Sec1, string? password = null) => (Key, encoding) switch
    {
        (ECDsa ec, TestKeyEncoding.Sec1) => ec.ExportECPrivateKeyPem() + "\n",
        (RSA rsa, TestKeyEncoding.Pkcs1) => rsa.ExportRSAPrivateKeyPem() + "\n",
        (RSA rsa, TestKeyEncoding.Sec1) => rsa.ExportRSAPrivateKeyPem() + "\n",
        (_, TestKeyEncoding.Pkcs8) => Key.ExportPkcs8PrivateKeyPem() + "\n",
        (_, TestKeyEncoding.EncryptedPkcs8) => Key.ExportEncryptedPkcs8PrivateKeyPem(
            (password ?? "secret").AsSpan(),
            new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 10_000)) + "\n",
        (ECDsa, TestKeyEncoding.Pkcs1) => throw new ArgumentException("PKCS#1 holds RSA keys only."),
        _ => throw new ArgumentOutOfRangeException(nameof(encoding)),
    };

    /// <summary>The combined PEM the kubelet keeps in kubelet-client-current.pem: certificate then key.</summary>
    public string CombinedPem(TestKeyEncoding encoding = TestKeyEncoding.Sec1) => CertificatePem + KeyPem(encoding);

    /// <summary>A certificate usable by Kestrel / SslStream (with its key attached).</summary>
    public X509Certificate2 WithKey()
    {
        var pfx = Key switch
        {
            ECDsa ec => Certificate.CopyWithPrivateKey(ec).Export(X509ContentType.Pkcs12),
            RSA rsa => Certificate.CopyWithPrivateKey(rsa).Export(X509ContentType.Pkcs12),
            _ => throw new NotSupportedException(),
        };
        return X509CertificateLoader.LoadPkcs12(pfx, null, X509KeyStorageFlags.Exportable);
    }
}

/// <summary>
/// A cluster certificate authority for tests, shaped like kubeadm's: a self-signed CA
/// ("kubernetes"), node client certificates (CN system:node:NAME, O system:nodes) and an
/// API server serving certificate for 127.0.0.1 / localhost.
/// </summary>
public sealed class ClusterPki
{
    private long _serial = 1000;

    public IssuedCertificate CA { get; }

    public ClusterPki(string commonName = "kubernetes", TestKeyType keyType = TestKeyType.Rsa2048)
    {
        var key = CreateKey(keyType);
        var request = CreateRequest(new X500DistinguishedName($"CN={commonName}"), key);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        var cert = request.CreateSelfSigned(now.AddYears(-10), now.AddYears(10));
        CA = new IssuedCertificate(X509CertificateLoader.LoadCertificate(cert.Export(X509ContentType.Cert)), key);
    }

    public IssuedCertificate Issue(CertificateSpec spec)
    {
        var key = CreateKey(spec.KeyType);
        var name = new StringBuilder();
        foreach (var o in spec.Organizations) name.Append("O=").Append(o).Append(", ");
        name.Append("CN=").Append(spec.CommonName);
        var request = CreateRequest(new X500DistinguishedName(name.ToString()), key);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        var usage = X509KeyUsageFlags.DigitalSignature | (spec.KeyType == TestKeyType.Rsa2048 ? X509KeyUsageFlags.KeyEncipherment : 0);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(usage, true));
        var eku = new OidCollection();
        if (spec.ClientAuth) eku.Add(new Oid("1.3.6.1.5.5.7.3.2"));
        if (spec.ServerAuth) eku.Add(new Oid("1.3.6.1.5.5.7.3.1"));
        if (eku.Count > 0) request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(eku, false));
        if (spec.DnsNames.Count + spec.IpAddresses.Count > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var d in spec.DnsNames) san.AddDnsName(d);
            foreach (var ip in spec.IpAddresses) san.AddIpAddress(ip);
            request.CertificateExtensions.Add(san.Build());
        }
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(CA.Certificate, true, false));
        var now = DateTimeOffset.UtcNow;
        var notBefore = spec.NotBefore ?? now.AddMinutes(-5);
        var notAfter = spec.NotAfter ?? now.AddYears(1);
        var serial = BitConverter.GetBytes(Interlocked.Increment(ref _serial));
        Array.Reverse(serial);
        using var caWithKey = CA.WithKey();
        using var issued = request.Create(caWithKey.SubjectName, CreateSignatureGenerator(CA.Key), notBefore, notAfter, serial);
        return new IssuedCertificate(X509CertificateLoader.LoadCertificate(issued.Export(X509ContentType.Cert)), key);
    }

    /// <summary>A node client certificate as the kubelet's TLS bootstrap would obtain it.</summary>
    public IssuedCertificate IssueNode(string nodeName, TestKeyType keyType = TestKeyType.EcP256) =>
        Issue(new CertificateSpec($"system:node:{nodeName}") { Organizations = ["system:nodes"], KeyType = keyType });

    /// <summary>The API server's serving certificate for loopback.</summary>
    public IssuedCertificate IssueServer() => Issue(new CertificateSpec("kube-apiserver")
    {
        ClientAuth = false,
        ServerAuth = true,
        DnsNames = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
        IpAddresses = [IPAddress.Loopback, IPAddress.IPv6Loopback],
    });

    /// <summary>
    /// Signs a PKCS#10 request (PEM) as kube-controller-manager's CSR signer does: subject and public key from the request,
    /// extensions from the approved usages, validity capped at <paramref name="duration"/> (a year by default).
    /// </summary>
    public X509Certificate2 SignCertificateRequest(string csrPem, bool clientAuth, bool serverAuth, TimeSpan? duration = null, DateTimeOffset? now = null)
    {
        var csr = CertificateRequest.LoadSigningRequestPem(csrPem, HashAlgorithmName.SHA256,
            CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions, RSASignaturePadding.Pkcs1);
        var request = new CertificateRequest(csr.SubjectName, csr.PublicKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        var eku = new OidCollection();
        if (clientAuth) eku.Add(new Oid("1.3.6.1.5.5.7.3.2"));
        if (serverAuth) eku.Add(new Oid("1.3.6.1.5.5.7.3.1"));
        if (eku.Count > 0) request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(eku, false));
        // Serving certificates keep the SANs the kubelet asked for.
        foreach (var ext in csr.CertificateExtensions)
        {
            if (serverAuth && ext.Oid?.Value == "2.5.29.17") request.CertificateExtensions.Add(ext);
        }
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(CA.Certificate, true, false));
        var start = now ?? DateTimeOffset.UtcNow;
        var serial = BitConverter.GetBytes(Interlocked.Increment(ref _serial));
        Array.Reverse(serial);
        using var caWithKey = CA.WithKey();
        var notAfter = start + (duration ?? TimeSpan.FromDays(365));
        if (notAfter > CA.Certificate.NotAfter) notAfter = CA.Certificate.NotAfter;
        using var issued = request.Create(caWithKey.SubjectName, CreateSignatureGenerator(CA.Key), start.AddMinutes(-5), notAfter, serial);
        return X509CertificateLoader.LoadCertificate(issued.Export(X509ContentType.Cert));
    }

    private static AsymmetricAlgorithm CreateKey(TestKeyType type) => type switch
    {
        TestKeyType.EcP256 => ECDsa.Create(ECCurve.NamedCurves.nistP256),
        TestKeyType.Rsa2048 => RSA.Create(2048),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    private static CertificateRequest CreateRequest(X500DistinguishedName subject, AsymmetricAlgorithm key) => key switch
    {
        ECDsa ec => new CertificateRequest(subject, ec, HashAlgorithmName.SHA256),
        RSA rsa => new CertificateRequest(subject, rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
        _ => throw new NotSupportedException(),
    };

    private static X509SignatureGenerator CreateSignatureGenerator(AsymmetricAlgorithm key) => key switch
    {
        ECDsa ec => X509SignatureGenerator.CreateForECDsa(ec),
        RSA rsa => X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1),
        _ => throw new NotSupportedException(),
    };
}
