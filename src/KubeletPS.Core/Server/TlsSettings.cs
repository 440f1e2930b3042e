using System.Net.Security;
using System.Security.Authentication;

namespace KubeletPS.Core.Server;

/// <summary>
/// tlsMinVersion and tlsCipherSuites, from Go's names (crypto/tls, as kubelet takes them) to what
/// SslStream takes. As with Go, the cipher list governs TLS 1.2; TLS 1.3's suites stay enabled.
/// </summary>
public sealed record TlsSettings(SslProtocols Protocols, CipherSuitesPolicy? CipherSuites)
{
    private static readonly TlsCipherSuite[] Tls13Suites =
        [TlsCipherSuite.TLS_AES_128_GCM_SHA256, TlsCipherSuite.TLS_AES_256_GCM_SHA384, TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256];

    /// <summary>Go's names that differ from IANA's (crypto/tls cipher_suites.go keeps the old short names as aliases).</summary>
    private static readonly Dictionary<string, TlsCipherSuite> GoAliases = new(StringComparer.Ordinal)
    {
        ["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"] = TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"] = TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    };

    /// <summary>Reads the two fields; an unknown or unsupported value is a <see cref="KubeletConfigException"/> naming the field.</summary>
    public static TlsSettings Parse(string minVersion, IReadOnlyList<string> cipherSuites, string? configPath = null)
    {
        var protocols = minVersion switch
        {
            "" or "VersionTLS12" => SslProtocols.Tls12 | SslProtocols.Tls13,
            "VersionTLS13" => SslProtocols.Tls13,
            "VersionTLS10" or "VersionTLS11" => throw new KubeletConfigException(
                $"tlsMinVersion: {minVersion} is not supported: the kubelet server serves TLS 1.2 and 1.3 only (use VersionTLS12 or VersionTLS13).", configPath, field: "tlsMinVersion"),
            _ => throw new KubeletConfigException(
                $"tlsMinVersion: unknown TLS version \"{minVersion}\" (allowed: VersionTLS12, VersionTLS13).", configPath, field: "tlsMinVersion"),
        };
        if (cipherSuites.Count == 0) return new TlsSettings(protocols, null);
        var suites = new List<TlsCipherSuite>();
        foreach (var name in cipherSuites)
        {
            if (GoAliases.TryGetValue(name, out var alias)) suites.Add(alias);
            else if (name.StartsWith("TLS_", StringComparison.Ordinal) && Enum.TryParse<TlsCipherSuite>(name, ignoreCase: false, out var suite)) suites.Add(suite);
            else throw new KubeletConfigException($"tlsCipherSuites: unknown cipher suite \"{name}\" (use Go's crypto/tls names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256).",
                configPath, field: "tlsCipherSuites");
        }
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
            return new TlsSettings(protocols, new CipherSuitesPolicy(suites.Concat(Tls13Suites).Distinct()));
        throw new KubeletConfigException("tlsCipherSuites: this platform does not let the server choose its cipher suites.", configPath, field: "tlsCipherSuites");
    }
}
