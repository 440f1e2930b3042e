namespace KubeletPS.Core.Server.Streaming;

/// <summary>
/// The kubelet server's entries for /exec, /attach, /portForward and /run (registered in
/// <see cref="KubeletServerRoutes"/>): the agent's pods and runtime from the server context,
/// streams closed after streamingConnectionIdleTimeout.
/// </summary>
public static class StreamingEndpoints
{
    /// <summary>The routes: exec, attach and portForward answer GET and POST, run only POST (server.go).</summary>
    public static IEnumerable<KubeletEndpoint> Routes { get; } =
    [
        new("/exec", "proxy", HandleAsync) { Prefix = true, Methods = ["GET", "POST"], Debugging = true },
        new("/attach", "proxy", HandleAsync) { Prefix = true, Methods = ["GET", "POST"], Debugging = true },
        new("/portForward", "proxy", HandleAsync) { Prefix = true, Methods = ["GET", "POST"], Debugging = true },
        new("/run", "proxy", HandleAsync) { Prefix = true, Methods = ["POST"], Debugging = true },
    ];

    public static Task HandleAsync(KubeletRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var server = request.Server;
        if (server.Runtime is not { } runtime)
        {
            return KubeletResponses.WriteTextAsync(request.Http, 503, "the kubelet has no container runtime connection", request.Aborted);
        }

        var proxy = new UpgradeAwareProxy(new UpgradeAwareProxyOptions
        {
            IdleTimeout = server.Options.StreamingConnectionIdleTimeout,
            TimeProvider = server.Time,
            Log = server.Log,
        });
        return new KubeletStreamingHandler(new StreamingRuntime(runtime, server.Pods), proxy).HandleAsync(request.Http);
    }
}
