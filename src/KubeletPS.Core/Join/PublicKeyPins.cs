using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KubeletPS.Core.Join;

/// <summary>
/// kubeadm's public key pins (cmd/kubeadm/app/util/pubkeypin): <c>sha256:HEX</c>, the SHA-256 of a certificate's DER
/// SubjectPublicKeyInfo, as <c>--discovery-token-ca-cert-hash</c> takes it and <c>kubeadm token create --print-join-command</c>
/// prints it. The messages are kubeadm's.
/// </summary>
public sealed class PublicKeyPins
{
    private const string FormatSha256 = "sha256";
    private readonly HashSet<string> _sha256 = new(StringComparer.Ordinal);

    public bool IsEmpty => _sha256.Count == 0;

    /// <summary>The pins, in canonical form (sha256:lower-case hex).</summary>
    public IReadOnlyCollection<string> Values => _sha256.Select(h => $"{FormatSha256}:{h}").ToList();

    /// <summary>The pin of <paramref name="certificate"/>'s public key: sha256:HEX.</summary>
    public static string Hash(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return $"{FormatSha256}:{Convert.ToHexString(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo())).ToLowerInvariant()}";
    }

    /// <summary>Set.Allow: adds each hash, or throws with kubeadm's message for the first malformed one.</summary>
    public void Allow(params string[] hashes)
    {
        foreach (var hash in hashes)
        {
            var message = Validate(hash, out var hex);
            if (message is not null) throw new KubeletException($"invalid discovery token CA certificate hash: {message}", KubeletErrorKind.InvalidArgument, "CACertHash");
            _sha256.Add(hex!);
        }
    }

    /// <summary>Null when <paramref name="hash"/> is a valid pin (its hex in <paramref name="hex"/>), else kubeadm's reason.</summary>
    public static string? Validate(string hash, out string? hex)
    {
        hex = null;
        var parts = (hash ?? "").Split(':');
        if (parts.Length != 2) return $"invalid hash, expected \"format:hex-value\". Known format(s) are: {FormatSha256}";
        if (!parts[0].Equals(FormatSha256, StringComparison.OrdinalIgnoreCase))
            return $"unknown hash format \"{parts[0]}\". Known format(s) are: {FormatSha256}";
        var value = parts[1];
        if (value.Length / 2 != SHA256.HashSizeInBytes)
            return $"invalid hash \"{hash}\", expected a {SHA256.HashSizeInBytes} byte SHA-256 hash, found {value.Length / 2} bytes";
        if (value.Length % 2 != 0 || !value.All(Uri.IsHexDigit))
            return $"invalid hash \"{hash}\", could not decode SHA-256 from hex";
        hex = value.ToLowerInvariant();
        return null;
    }

    /// <summary>Set.CheckAny: null when one of <paramref name="certificates"/> has a pinned key, else kubeadm's message.</summary>
    public string? CheckAny(IEnumerable<X509Certificate2> certificates)
    {
        var hashes = new List<string>();
        foreach (var certificate in certificates)
        {
            var hash = Hash(certificate);
            if (_sha256.Contains(hash[(FormatSha256.Length + 1)..])) return null;
            hashes.Add(hash);
        }
        return $"none of the public keys \"{string.Join(":", hashes)}\" are pinned";
    }
}
