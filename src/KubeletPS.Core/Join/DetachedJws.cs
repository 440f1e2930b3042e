using System.Security.Cryptography;
using System.Text;

namespace KubeletPS.Core.Join;

/// <summary>
/// The detached JWS the bootstrap signer puts into the cluster-info ConfigMap (k8s.io/cluster-bootstrap/token/jws,
/// RFC 7515 appendix F): an HS256 JWS over the kubeconfig with the protected header {"alg":"HS256","kid":"TOKEN-ID"},
/// keyed by the token secret (zero-padded to 32 bytes as go-jose requires), serialized compactly without the payload:
/// <c>HEADER..SIGNATURE</c>.
/// </summary>
public static class DetachedJws
{
    public static string ComputeDetachedSignature(string content, string tokenId, string tokenSecret)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(tokenId);
        ArgumentNullException.ThrowIfNull(tokenSecret);
        var secret = Encoding.UTF8.GetBytes(tokenSecret);
        var key = new byte[Math.Max(32, secret.Length)];
        secret.CopyTo(key, 0);
        // go-jose writes the header with its keys sorted: alg, then kid.
        var header = Base64Url(Encoding.UTF8.GetBytes($"{{\"alg\":\"HS256\",\"kid\":{System.Text.Json.JsonSerializer.Serialize(tokenId)}}}"));
        var signingInput = Encoding.ASCII.GetBytes(header + "." + Base64Url(Encoding.UTF8.GetBytes(content)));
        var signature = HMACSHA256.HashData(key, signingInput);
        CryptographicOperations.ZeroMemory(key);
        return header + ".." + Base64Url(signature);
    }

    /// <summary>DetachedTokenIsValid, with the comparison in constant time so a forger learns nothing from timing.</summary>
    public static bool IsValid(string detachedToken, string content, string tokenId, string tokenSecret)
    {
        ArgumentNullException.ThrowIfNull(detachedToken);
        var expected = Encoding.ASCII.GetBytes(ComputeDetachedSignature(content, tokenId, tokenSecret));
        var actual = Encoding.UTF8.GetBytes(detachedToken);
        return CryptographicOperations.FixedTimeEquals(expected, actual);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
