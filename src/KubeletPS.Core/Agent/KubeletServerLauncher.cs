using System.Runtime.CompilerServices;
using KubeletPS.Core.Server;

namespace KubeletPS.Core.Agent;

/// <summary>The running kubelet server as the agent holds it (no ASP.NET Core type in sight).</summary>
public interface IKubeletServerHandle : IAsyncDisposable
{
    int Port { get; }
    int? HealthzPort { get; }
}

/// <summary>
/// Starts the kubelet server for the agent. Kept apart so that the agent's own code never names a type from ASP.NET
/// Core: where the shared framework is missing the agent warns and runs without the server.
/// </summary>
internal static class KubeletServerLauncher
{
    /// <summary>The server, or null (with one warning) when enableServer is false or ASP.NET Core is absent.</summary>
    public static async Task<IKubeletServerHandle?> StartAsync(bool enabled, Func<KubeletServerContext> context, IKubeletLog log, CancellationToken cancellationToken)
    {
        if (!enabled)
        {
            log.Info("enableServer is false: no kubelet server (port 10250).");
            return null;
        }
        if (AspNetCoreFramework.Unavailable() is { } why)
        {
            log.Warning(why);
            return null;
        }
        return await StartKestrelAsync(context, cancellationToken).ConfigureAwait(false);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<IKubeletServerHandle> StartKestrelAsync(Func<KubeletServerContext> context, CancellationToken cancellationToken) =>
        new Handle(await KubeletServer.StartAsync(context(), null, cancellationToken).ConfigureAwait(false));

    private sealed class Handle(KubeletServer server) : IKubeletServerHandle
    {
        public int Port => server.Port;
        public int? HealthzPort => server.HealthzPort;
        public ValueTask DisposeAsync() => server.DisposeAsync();
    }
}
