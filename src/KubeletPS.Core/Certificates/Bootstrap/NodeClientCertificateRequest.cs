using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Org.BouncyCastle.Crypto.Digests;

namespace KubeletPS.Core.Certificates.Bootstrap;

/// <summary>
/// The PKCS#10 request a kubelet sends for its client certificate (bootstrap.go requestNodeCertificate): subject
/// O=system:nodes, CN=system:node:NAME, no extensions, signed with the node's key; usages digital signature and client
/// auth; the CSR named node-csr-BASE64URL(SHA-512/256(public key | CN | O | usages)) so that a retry with the same key
/// finds the request it already made.
/// </summary>
public static class NodeClientCertificateRequest
{
    public const string SignerName = "kubernetes.io/kube-apiserver-client-kubelet";
    public const string Organization = "system:nodes";
    public const string CommonNamePrefix = "system:node:";
    public static IReadOnlyList<string> Usages { get; } = ["digital signature", "client auth"];

    public static string CommonName(string nodeName) => CommonNamePrefix + nodeName;

    /// <summary>
    /// The subject encoded in Go's pkix.Name order, O then CN (openssl shows "O = system:nodes, CN = system:node:NAME").
    /// The builder encodes its RDNs last-added first, so CN is added first.
    /// </summary>
    public static X500DistinguishedName Subject(string nodeName)
    {
        var builder = new X500DistinguishedNameBuilder();
        builder.AddCommonName(CommonName(nodeName));
        builder.AddOrganizationName(Organization);
        return builder.Build();
    }

    /// <summary>A PEM "CERTIFICATE REQUEST" for <paramref name="nodeName"/> signed by <paramref name="key"/>.</summary>
    public static string CreatePem(ECDsa key, string nodeName) =>
        new CertificateRequest(Subject(nodeName), key, HashAlgorithmName.SHA256).CreateSigningRequestPem();

    /// <summary>bootstrap.go digestedName: each part base64url-encoded (unpadded) and followed by '|', hashed with SHA-512/256.</summary>
    public static string DigestedName(byte[] subjectPublicKeyInfo, string nodeName, IEnumerable<string>? usages = null)
    {
        var digest = new Sha512tDigest(256);
        void Write(byte[] data)
        {
            var encoded = Encoding.ASCII.GetBytes(Base64Url(data));
            digest.BlockUpdate(encoded, 0, encoded.Length);
            digest.Update((byte)'|');
        }
        Write(subjectPublicKeyInfo);
        Write(Encoding.UTF8.GetBytes(CommonName(nodeName)));
        Write(Encoding.UTF8.GetBytes(Organization));
        foreach (var usage in usages ?? Usages) Write(Encoding.UTF8.GetBytes(usage));
        var hash = new byte[digest.GetDigestSize()];
        digest.DoFinal(hash, 0);
        return "node-csr-" + Base64Url(hash);
    }

    private static string Base64Url(byte[] data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
