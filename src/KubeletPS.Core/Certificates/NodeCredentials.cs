using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.Sec;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.X509;

namespace KubeletPS.Core.Certificates;

/// <summary>
/// A client certificate (leaf first, then any intermediates the file carries) and its private
/// key, as the kubelet loads them. Internal: BouncyCastle types never leave the engine.
/// </summary>
internal sealed class NodeCredentials
{
    public required IReadOnlyList<X509Certificate> Certificates { get; init; }
    public required string CertificateSource { get; init; }
    public AsymmetricKeyParameter? PrivateKey { get; init; }
    /// <summary>Where the key came from (a path or label), never the key.</summary>
    public string? KeySource { get; init; }

    public X509Certificate Leaf => Certificates[0];

    internal static readonly string[] KeyLabels = ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY"];

    private static bool IsKeyLabel(string label) => KeyLabels.Contains(label);

    /// <summary>
    /// Reads the certificate and the key. With no separate key source, the key is looked for in
    /// the certificate's own file (kubelet-client-current.pem holds both); it may be absent.
    /// </summary>
    public static async Task<NodeCredentials> LoadAsync(PemSource certificate, PemSource? key, CancellationToken cancellationToken)
    {
        var certificateBlocks = PemBlock.Parse(await certificate.ReadAsync(cancellationToken).ConfigureAwait(false), certificate.Label, IsKeyLabel);
        var certificates = ParseCertificates(certificateBlocks, certificate.Label);
        if (certificates.Count == 0)
        {
            throw new CertificateException(CertificateProblem.NoCertificate, certificate.Label,
                certificateBlocks.Count == 0
                    ? "no PEM blocks found; expected '-----BEGIN CERTIFICATE-----'."
                    : $"no CERTIFICATE block among its {certificateBlocks.Count} PEM block(s) ({string.Join(", ", certificateBlocks.Select(b => b.Label).Distinct())}).");
        }

        AsymmetricKeyParameter? privateKey;
        string? keySource;
        if (key is null || key.IsSameFileAs(certificate))
        {
            privateKey = ParsePrivateKey(certificateBlocks, certificate.Label, required: key is not null);
            keySource = privateKey is null ? null : certificate.Label;
        }
        else
        {
            var keyBlocks = PemBlock.Parse(await key.ReadAsync(cancellationToken).ConfigureAwait(false), key.Label, IsKeyLabel);
            privateKey = ParsePrivateKey(keyBlocks, key.Label, required: true);
            keySource = key.Label;
        }
        return new NodeCredentials
        {
            Certificates = certificates,
            CertificateSource = certificate.Label,
            PrivateKey = privateKey,
            KeySource = keySource,
        };
    }

    /// <summary>Reads a CA bundle: one or more CERTIFICATE blocks.</summary>
    public static async Task<IReadOnlyList<X509Certificate>> LoadCertificateAuthoritiesAsync(PemSource source, CancellationToken cancellationToken)
    {
        var blocks = PemBlock.Parse(await source.ReadAsync(cancellationToken).ConfigureAwait(false), source.Label, IsKeyLabel);
        var certificates = ParseCertificates(blocks, source.Label);
        if (certificates.Count == 0)
        {
            throw new CertificateException(CertificateProblem.NoCertificate, source.Label,
                "the CA bundle holds no CERTIFICATE block.");
        }
        return certificates;
    }

    private static List<X509Certificate> ParseCertificates(IReadOnlyList<PemBlock> blocks, string source)
    {
        var certificates = new List<X509Certificate>();
        foreach (var block in blocks.Where(b => b.Label is "CERTIFICATE" or "TRUSTED CERTIFICATE"))
        {
            try
            {
                // TRUSTED CERTIFICATE (openssl) is a certificate followed by trust settings.
                var sequence = (Asn1Sequence)new Asn1InputStream(block.Der).ReadObject();
                certificates.Add(new X509Certificate(X509CertificateStructure.GetInstance(sequence)));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new CertificateException(CertificateProblem.CertificateUnreadable, source,
                    $"{block.Describe()} is not a DER X.509 certificate ({e.GetType().Name}).", e);
            }
        }
        return certificates;
    }

    private static AsymmetricKeyParameter? ParsePrivateKey(IReadOnlyList<PemBlock> blocks, string source, bool required)
    {
        var keyBlocks = blocks.Where(b => IsKeyLabel(b.Label)).ToList();
        if (keyBlocks.Count == 0)
        {
            if (!required) return null;
            throw new CertificateException(CertificateProblem.KeyUnreadable, source,
                blocks.Count == 0
                    ? "no PEM blocks found; expected a private key ('-----BEGIN EC PRIVATE KEY-----', 'PRIVATE KEY' or 'RSA PRIVATE KEY')."
                    : "holds no private key block (EC PRIVATE KEY, PRIVATE KEY or RSA PRIVATE KEY).");
        }
        if (keyBlocks.Count > 1)
        {
            throw new CertificateException(CertificateProblem.KeyUnreadable, source,
                $"holds {keyBlocks.Count} private keys ({string.Join(", ", keyBlocks.Select(b => b.Describe()))}); the kubelet expects exactly one.");
        }
        var block = keyBlocks[0];
        if (block.IsEncryptedKey)
        {
            throw new CertificateException(CertificateProblem.KeyEncrypted, source,
                $"{block.Describe()} is an encrypted private key; the kubelet cannot use encrypted keys (it has no passphrase). " +
                "Decrypt it with 'openssl pkey -in <file> -out <file>' into a mode 0600 file.");
        }
        try
        {
            return block.Label switch
            {
                "PRIVATE KEY" => PrivateKeyFactory.CreateKey(block.Der),
                "EC PRIVATE KEY" => ParseSec1(block.Der),
                "RSA PRIVATE KEY" => ParsePkcs1(block.Der),
                _ => throw new InvalidOperationException(),
            };
        }
        catch (Exception e) when (e is not OperationCanceledException and not CertificateException)
        {
            // The inner exception's type is enough to diagnose; BouncyCastle messages can quote bytes.
            throw new CertificateException(CertificateProblem.KeyUnreadable, source,
                $"{block.Describe()} does not parse as {Encoding(block.Label)} ({e.GetType().Name}).");
        }
    }

    private static string Encoding(string label) => label switch
    {
        "PRIVATE KEY" => "a PKCS#8 private key",
        "EC PRIVATE KEY" => "a SEC1 EC private key",
        "RSA PRIVATE KEY" => "a PKCS#1 RSA private key",
        _ => label,
    };

    private static AsymmetricKeyParameter ParseSec1(byte[] der)
    {
        var structure = ECPrivateKeyStructure.GetInstance(Asn1Sequence.GetInstance(der));
        var curve = structure.Parameters ?? throw new InvalidDataException("The SEC1 key names no curve.");
        var algorithm = new AlgorithmIdentifier(X9ObjectIdentifiers.IdECPublicKey, curve);
        return PrivateKeyFactory.CreateKey(new PrivateKeyInfo(algorithm, structure));
    }

    private static AsymmetricKeyParameter ParsePkcs1(byte[] der)
    {
        var s = RsaPrivateKeyStructure.GetInstance(Asn1Sequence.GetInstance(der));
        return new RsaPrivateCrtKeyParameters(s.Modulus, s.PublicExponent, s.PrivateExponent,
            s.Prime1, s.Prime2, s.Exponent1, s.Exponent2, s.Coefficient);
    }
}
