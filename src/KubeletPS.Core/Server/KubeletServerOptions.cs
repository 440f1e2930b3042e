using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Server;

/// <summary>
/// What the kubelet server listens on and whom it lets in: the KubeletConfiguration fields kubelet's
/// server reads (address, port, tls*, authentication, authorization, healthz*, enableDebuggingHandlers).
/// </summary>
public sealed record KubeletServerOptions
{
    public required string NodeName { get; init; }

    /// <summary>address: the IP the HTTPS server binds (0.0.0.0 all IPv4, :: all).</summary>
    public string Address { get; init; } = "0.0.0.0";

    /// <summary>port; 0 picks a free port (tests), read back from <see cref="KubeletServer.Port"/>.</summary>
    public int Port { get; init; } = 10250;

    /// <summary>healthzBindAddress; empty disables the plain-HTTP healthz server.</summary>
    public string HealthzBindAddress { get; init; } = "127.0.0.1";

    /// <summary>healthzPort; 0 disables it (as kubelet), -1 picks a free port (tests).</summary>
    public int HealthzPort { get; init; } = 10248;

    public string TlsCertFile { get; init; } = "";
    public string TlsPrivateKeyFile { get; init; } = "";

    /// <summary>Where kubelet.crt/kubelet.key are generated when no tlsCertFile is set (kubelet's --cert-dir).</summary>
    public string CertificateDirectory { get; init; } = KubeletConfigurationDefaults.DefaultRootDirectory + "/pki";

    public string TlsMinVersion { get; init; } = "";
    public IReadOnlyList<string> TlsCipherSuites { get; init; } = [];

    /// <summary>Host names and IPs put in the self-signed serving certificate besides the node name.</summary>
    public IReadOnlyList<string> NodeAddresses { get; init; } = [];

    public string ClientCaFile { get; init; } = "";
    public bool AnonymousEnabled { get; init; }
    public bool WebhookAuthenticationEnabled { get; init; } = true;
    public TimeSpan TokenCacheTtl { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>authorization.mode: Webhook or AlwaysAllow.</summary>
    public string AuthorizationMode { get; init; } = "Webhook";
    public TimeSpan AuthorizedCacheTtl { get; init; } = TimeSpan.FromMinutes(5);
    public TimeSpan UnauthorizedCacheTtl { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>enableDebuggingHandlers: false leaves /containerLogs, /exec, /attach, /portForward, /run unregistered (404).</summary>
    public bool EnableDebuggingHandlers { get; init; } = true;

    /// <summary>streamingConnectionIdleTimeout: a follow stream that sends nothing for this long is closed.</summary>
    public TimeSpan StreamingConnectionIdleTimeout { get; init; } = TimeSpan.FromHours(4);

    /// <summary>The options an effective configuration gives (defaults already applied by the loader).</summary>
    public static KubeletServerOptions FromConfiguration(KubeletConfiguration c, string nodeName, string rootDirectory, IEnumerable<string> nodeAddresses) => new()
    {
        NodeName = nodeName,
        Address = string.IsNullOrEmpty(c.Address) ? "0.0.0.0" : c.Address,
        Port = c.Port == 0 ? 10250 : c.Port,
        HealthzBindAddress = c.HealthzBindAddress,
        HealthzPort = c.HealthzPort ?? 10248,
        TlsCertFile = c.TlsCertFile,
        TlsPrivateKeyFile = c.TlsPrivateKeyFile,
        CertificateDirectory = Path.Combine(rootDirectory, "pki"),
        TlsMinVersion = c.TlsMinVersion,
        TlsCipherSuites = c.TlsCipherSuites ?? [],
        NodeAddresses = nodeAddresses.Where(a => !string.IsNullOrEmpty(a)).Distinct(StringComparer.Ordinal).ToList(),
        ClientCaFile = c.Authentication.X509.ClientCAFile,
        AnonymousEnabled = c.Authentication.Anonymous.Enabled == true,
        WebhookAuthenticationEnabled = c.Authentication.Webhook.Enabled != false,
        TokenCacheTtl = c.Authentication.Webhook.CacheTtl,
        AuthorizationMode = c.Authorization.Mode,
        AuthorizedCacheTtl = c.Authorization.Webhook.CacheAuthorizedTtl,
        UnauthorizedCacheTtl = c.Authorization.Webhook.CacheUnauthorizedTtl,
        EnableDebuggingHandlers = c.EnableDebuggingHandlers != false,
        StreamingConnectionIdleTimeout = c.StreamingConnectionIdleTimeout > TimeSpan.Zero ? c.StreamingConnectionIdleTimeout : TimeSpan.FromHours(4),
    };
}
