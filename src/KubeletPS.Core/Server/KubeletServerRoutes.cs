using KubeletPS.Core.Server.Auth;
using KubeletPS.Core.Server.Endpoints;
using Microsoft.AspNetCore.Http;

namespace KubeletPS.Core.Server;

/// <summary>One request that passed authentication and authorization, handed to its endpoint.</summary>
public sealed class KubeletRequest(HttpContext http, KubeletUser user, KubeletServerContext server, string remainder, CancellationToken aborted)
{
    public HttpContext Http { get; } = http;
    public KubeletUser User { get; } = user;
    public KubeletServerContext Server { get; } = server;

    /// <summary>The path below the endpoint's own (for /containerLogs/ns/pod/c: "ns/pod/c"), unescaped segments joined by '/'.</summary>
    public string Remainder { get; } = remainder;

    /// <summary>Cancelled when the client goes away or the server stops.</summary>
    public CancellationToken Aborted { get; } = aborted;
}

public delegate Task KubeletEndpointHandler(KubeletRequest request);

/// <summary>
/// An endpoint of the kubelet server. <see cref="Subresource"/> is what the SubjectAccessReview asks for
/// (resource nodes, name = the node): it must be what kubelet's GetRequestAttributes gives for the path.
/// </summary>
public sealed record KubeletEndpoint(string Path, string Subresource, KubeletEndpointHandler Handler)
{
    /// <summary>Also matches paths below <see cref="Path"/> (/containerLogs/{ns}/{pod}/{container}).</summary>
    public bool Prefix { get; init; }

    /// <summary>HTTP methods it answers; another method gets 405.</summary>
    public IReadOnlyList<string> Methods { get; init; } = ["GET", "HEAD"];

    /// <summary>A debugging handler (logs, exec, attach, portForward, run): not registered with enableDebuggingHandlers false.</summary>
    public bool Debugging { get; init; }

    /// <summary>Also served, without TLS or authentication, on healthzBindAddress:healthzPort.</summary>
    public bool OnHealthzPort { get; init; }

    public bool Matches(string path) => path == Path || (Prefix && path.StartsWith(Path.TrimEnd('/') + "/", StringComparison.Ordinal));
}

/// <summary>
/// THE place where the kubelet server's endpoints are registered. To add one, add a line to <see cref="All"/>:
/// <code>new("/stats/summary", "stats", StatsEndpoints.SummaryAsync) { Methods = ["GET", "POST"] },</code>
/// - Path: the URL path; <c>Prefix = true</c> for a path with parameters below it (read them from
///   <see cref="KubeletRequest.Remainder"/>).
/// - Subresource: the nodes/&lt;subresource&gt; the SubjectAccessReview checks, as kubelet maps paths:
///   /stats → stats, /metrics → metrics, /logs → log, /spec → spec, /checkpoint → checkpoint, everything else
///   (/pods, /configz, /healthz, /containerLogs, /exec, /attach, /portForward, /run) → proxy. The verb comes from the
///   HTTP method (GET/HEAD get, POST create, PUT update, PATCH patch, DELETE delete). A test checks each line
///   against <see cref="KubeletRequestAttributes.For"/>.
/// - Handler: an async method taking a <see cref="KubeletRequest"/> (the authenticated user, the HttpContext, what
///   the agent exposes in <see cref="KubeletServerContext"/>); it must finish when <see cref="KubeletRequest.Aborted"/>
///   fires, and never hold a pod engine lock while writing to the client.
/// - Debugging = true for the handlers enableDebuggingHandlers turns off (logs, exec, attach, portForward, run).
/// Handlers live in their own files (LogEndpoints.cs, ...), not here. Connection upgrades (SPDY, WebSocket) are
/// available to a handler through the HttpContext (IHttpUpgradeFeature, WebSockets).
/// </summary>
public static class KubeletServerRoutes
{
    public static IReadOnlyList<KubeletEndpoint> All { get; } =
    [
        new("/healthz", "proxy", HealthzEndpoint.HandleAsync) { Prefix = true, OnHealthzPort = true },
        new("/pods", "proxy", NodeEndpoints.PodsAsync),
        new("/configz", "proxy", NodeEndpoints.ConfigzAsync),
        new("/metrics", "metrics", MetricsEndpoint.HandleAsync),
        new("/metrics/probes", "metrics", MetricsEndpoint.ProbesAsync),
        new("/containerLogs", "proxy", ContainerLogsEndpoint.HandleAsync) { Prefix = true, Debugging = true },
        .. Streaming.StreamingEndpoints.Routes,
        new("/stats/summary", "stats", StatsEndpoints.SummaryAsync) { Methods = ["GET", "HEAD", "POST"] },
        new("/metrics/resource", "metrics", StatsEndpoints.ResourceMetricsAsync),
    ];

    /// <summary>The endpoints the options register (without the debugging handlers when they are disabled).</summary>
    public static IReadOnlyList<KubeletEndpoint> For(KubeletServerOptions options) =>
        All.Where(e => options.EnableDebuggingHandlers || !e.Debugging).ToList();
}
