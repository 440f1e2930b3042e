using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KubeletPS.Core.Certificates;

namespace KubeletPS.Core.Server;

/// <summary>
/// Where the kubelet server's certificate comes from. Read on every TLS handshake, so a source
/// that changes its answer (a rotated kubelet-serving certificate from a CSR, serverTLSBootstrap)
/// takes effect for the next connection without restarting the server.
/// </summary>
public interface IServingCertificateSource
{
    /// <summary>The certificate with its private key to present now.</summary>
    X509Certificate2 Current { get; }
}

/// <summary>A fixed certificate: tlsCertFile/tlsPrivateKeyFile, or the self-signed kubelet.crt.</summary>
public sealed class StaticServingCertificate(X509Certificate2 certificate) : IServingCertificateSource
{
    public X509Certificate2 Current { get; } = certificate;
}

/// <summary>
/// serverTLSBootstrap: the kubelet-serving certificate from a CSR, rotated in place. Until one is issued the TLS
/// handshake fails, as kubelet's GetCertificate does ("no serving certificate available for the kubelet").
/// </summary>
public sealed class BootstrappedServingCertificate(Func<X509Certificate2?> current) : IServingCertificateSource
{
    public X509Certificate2 Current => current() ??
        throw new System.Security.Authentication.AuthenticationException("no serving certificate available for the kubelet");
}

/// <summary>Loads the serving certificate kubelet would use, generating the self-signed one where needed.</summary>
public static class ServingCertificates
{
    public const string SelfSignedCertificateFile = "kubelet.crt";
    public const string SelfSignedKeyFile = "kubelet.key";

    /// <summary>
    /// tlsCertFile/tlsPrivateKeyFile when set; else, as kubelet (pkg/kubelet/kubelet.go, cert.GenerateSelfSignedCertKey):
    /// {certDir}/kubelet.crt and kubelet.key, self-signed for the node's host name and addresses, generated once (key 0600)
    /// and reused while they load.
    /// </summary>
    public static IServingCertificateSource Load(KubeletServerOptions options, IKubeletLog log)
    {
        if (options.TlsCertFile.Length > 0 || options.TlsPrivateKeyFile.Length > 0)
        {
            if (options.TlsCertFile.Length == 0 || options.TlsPrivateKeyFile.Length == 0)
                throw new KubeletConfigException("tlsCertFile and tlsPrivateKeyFile must be set together.", null,
                    field: options.TlsCertFile.Length == 0 ? "tlsCertFile" : "tlsPrivateKeyFile");
            return new StaticServingCertificate(LoadPair(options.TlsCertFile, options.TlsPrivateKeyFile));
        }
        var certPath = Path.Combine(options.CertificateDirectory, SelfSignedCertificateFile);
        var keyPath = Path.Combine(options.CertificateDirectory, SelfSignedKeyFile);
        if (File.Exists(certPath) && File.Exists(keyPath))
        {
            return new StaticServingCertificate(LoadPair(certPath, keyPath));
        }
        log.Info($"no tlsCertFile: generating a self-signed serving certificate for {options.NodeName} in {certPath}.");
        var (certificatePem, keyPem) = GenerateSelfSigned(options.NodeName, options.NodeAddresses, DateTimeOffset.UtcNow);
        Directory.CreateDirectory(options.CertificateDirectory);
        WritePrivate(keyPath, keyPem);
        File.WriteAllText(certPath, certificatePem);
        return new StaticServingCertificate(LoadPair(certPath, keyPath));
    }

    /// <summary>
    /// As client-go's cert.GenerateSelfSignedCertKey: a CA "host-ca@TIME" signs a serving certificate "host@TIME" valid a
    /// year with the host and the addresses as SANs; both certificates go to the .crt (leaf first).
    /// </summary>
    internal static (string CertificatePem, string KeyPem) GenerateSelfSigned(string host, IEnumerable<string> addresses, DateTimeOffset now)
    {
        var stamp = now.ToUnixTimeSeconds();
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN={host}-ca@{stamp}", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.DigitalSignature, true));
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(1));

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={host}@{stamp}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var san = new SubjectAlternativeNameBuilder();
        var names = new HashSet<string>(StringComparer.Ordinal) { host };
        foreach (var a in addresses) names.Add(a);
        foreach (var name in names)
        {
            if (IPAddress.TryParse(name, out var ip)) san.AddIpAddress(ip);
            else san.AddDnsName(name);
        }
        request.CertificateExtensions.Add(san.Build());
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var leaf = request.Create(ca, now.AddMinutes(-5), now.AddYears(1), serial);
        return (leaf.ExportCertificatePem() + "\n" + ca.ExportCertificatePem() + "\n", key.ExportECPrivateKeyPem() + "\n");
    }

    private static X509Certificate2 LoadPair(string certPath, string keyPath)
    {
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(certPath, keyPath);
            // An ephemeral PEM key cannot be used by SslStream on every platform: go through PKCS#12 once.
#if NET9_0_OR_GREATER
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
#else
            return new X509Certificate2(pem.Export(X509ContentType.Pkcs12));
#endif
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            var problem = e is IOException or UnauthorizedAccessException ? CertificateProblem.FileUnreadable : CertificateProblem.KeyUnreadable;
            throw new CertificateException(problem, certPath, $"cannot load the kubelet serving certificate with its key {keyPath}: {e.Message}", e);
        }
    }

    private static void WritePrivate(string path, string text)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(text);
        }
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
