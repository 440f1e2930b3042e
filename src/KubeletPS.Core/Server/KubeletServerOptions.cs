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

    /// <summary>Kestrel's limits on the HTTPS port (kubelet's http.Server settings; not configurable in KubeletConfiguration).</summary>
    public KubeletServerLimits Limits { get; init; } = new();

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

/// <summary>
/// What one connection to the kubelet port may cost the agent, as Kestrel limits. kubelet's http.Server
/// (pkg/kubelet/server/server.go ListenAndServeKubeletServer) sets MaxHeaderBytes 1 MiB, IdleTimeout 90 s and
/// Read/WriteTimeout 4 h, and no header timeout, so its headers may take 4 h to arrive; here they get Kestrel's
/// 30 s, and a body that is read must keep a minimum rate. Streams (exec, attach, port-forward) are upgraded
/// connections, which none of the request limits touch; their idle limit is streamingConnectionIdleTimeout.
/// These are no KubeletConfiguration fields (kubelet has none for them): the defaults hold unless a test shortens them.
/// </summary>
public sealed record KubeletServerLimits
{
    /// <summary>Go's http.Server MaxHeaderBytes as kubelet sets it (1 &lt;&lt; 20): the request line and the headers each at most this.</summary>
    public const int KubeletMaxHeaderBytes = 1 << 20;

    /// <summary>Go's http.Request.ParseForm reads at most 10 MiB of a POST form ("10 MB is a lot of text").</summary>
    public const long MaxFormBytes = 10L << 20;

    /// <summary>The request line and all the headers together, each at most (Kestrel MaxRequestLineSize, MaxRequestHeadersTotalSize).</summary>
    public int MaxHeaderBytes { get; init; } = KubeletMaxHeaderBytes;

    /// <summary>Headers per request (Kestrel's default; Go counts bytes only, and an apiserver proxy request carries about ten).</summary>
    public int MaxHeaderCount { get; init; } = 100;

    /// <summary>The time from the connection (or the previous response) to the end of the request's headers (slow headers are closed).</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>kubelet's IdleTimeout: a kept-alive connection with no request for this long is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>The largest request body read (the /stats/summary form is the only body the kubelet reads; upgraded streams are not bodies).</summary>
    public long MaxRequestBodySize { get; init; } = MaxFormBytes;

    /// <summary>A body being read must arrive at least this fast, after <see cref="MinRequestBodyGracePeriod"/> (Kestrel's 240 B/s).</summary>
    public double MinRequestBodyBytesPerSecond { get; init; } = 240;

    public TimeSpan MinRequestBodyGracePeriod { get; init; } = TimeSpan.FromSeconds(5);
}
