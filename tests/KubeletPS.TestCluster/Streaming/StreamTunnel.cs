using System.Net.WebSockets;
using KubeletPS.Core.Server.Streaming;

namespace KubeletPS.TestCluster.Streaming;

/// <summary>
/// kube-apiserver's tunneling handler for port-forward over WebSocket (staging/src/k8s.io/apimachinery/pkg/util/proxy/streamtunnel.go,
/// feature PortForwardWebsockets, on by default since 1.31). kubectl 1.32 first asks for a WebSocket offering
/// <c>SPDY/3.1+portforward.k8s.io</c> and speaks SPDY inside its binary messages (client-go tools/portforward,
/// tunneling_connection.go); it falls back to a plain SPDY upgrade only when that WebSocket is refused (fallback_dialer.go).
/// Here, as in kube-apiserver: the kubelet is asked for a SPDY upgrade with the protocols the prefix named
/// (<c>X-Stream-Protocol-Version: portforward.k8s.io</c>); when it answers 101 the client's WebSocket is accepted with the
/// agreed protocol under the prefix, and from then on bytes pass unchanged: the kubelet's as binary messages to the client,
/// the client's messages' payloads to the kubelet. A kubelet that refuses has its answer passed back as the API server's.
/// </summary>
internal sealed class StreamTunnel
{
    /// <summary>constants.WebsocketsSPDYTunnelingPrefix.</summary>
    public const string TunnelingPrefix = "SPDY/3.1+";

    private int _established;

    /// <summary>Tunnels accepted so far (WebSocket accepted, SPDY to the kubelet upgraded).</summary>
    public int Established => Volatile.Read(ref _established);

    /// <summary>A WebSocket upgrade offering a SPDY tunneling protocol (wsstream.IsWebSocketRequestWithTunnelingProtocol).</summary>
    public static bool IsTunnelingRequest(HttpRequest request) =>
        request.Headers.Upgrade.ToString().Equals("websocket", StringComparison.OrdinalIgnoreCase)
        && !string.IsNullOrEmpty(request.Headers.SecWebSocketKey)
        && SpdyProtocols(request).Count > 0;

    /// <summary>spdyProtocolsFromWebsocketProtocols: the offered WebSocket protocols with the tunneling prefix, without it.</summary>
    private static List<string> SpdyProtocols(HttpRequest request) =>
        request.Headers.SecWebSocketProtocol.SelectMany(p => (p ?? "").Split(','))
            .Select(p => p.Trim())
            .Where(p => p.StartsWith(TunnelingPrefix, StringComparison.Ordinal) && p.Length > TunnelingPrefix.Length)
            .Select(p => p[TunnelingPrefix.Length..])
            .ToList();

    /// <summary>Serves the WebSocket at <paramref name="context"/> as a tunnel to a SPDY connection with the kubelet at <paramref name="location"/>.</summary>
    public async Task TunnelAsync(HttpContext context, Uri location, System.Net.Security.SslClientAuthenticationOptions? tls)
    {
        var aborted = context.RequestAborted;
        var protocols = SpdyProtocols(context.Request);
        if (protocols.Count == 0)
        {
            await UpgradeAwareProxy.WriteTextAsync(context, StatusCodes.Status400BadRequest, "unable to upgrade: no tunneling spdy protocols provided");
            return;
        }

        // createSPDYRequest: the client's request with the WebSocket headers swapped for SPDY's.
        var headers = new List<KeyValuePair<string, string>> { new("Connection", "Upgrade"), new("Upgrade", "SPDY/3.1") };
        headers.AddRange(protocols.Select(p => new KeyValuePair<string, string>("X-Stream-Protocol-Version", p)));
        if (await KubeletUpgrade.RequestAsync(context, location, tls, "GET", headers) is not (var backend, var head)) return;
        await using (backend)
        {
            var agreed = head.Header("X-Stream-Protocol-Version");
            if (agreed is null || !protocols.Contains(agreed))
            {
                await UpgradeAwareProxy.WriteTextAsync(context, StatusCodes.Status500InternalServerError,
                    $"the kubelet agreed on \"{agreed}\", not one of the offered {string.Join(", ", protocols)}");
                return;
            }

            using var socket = await StreamTranslator.AcceptWebSocketAsync(context, TunnelingPrefix + agreed);
            if (socket is null) return;
            Interlocked.Increment(ref _established);
            using var done = CancellationTokenSource.CreateLinkedTokenSource(aborted);
            var toClient = CopyKubeletToClientAsync(backend, socket, done.Token);
            var fromClient = CopyClientToKubeletAsync(socket, backend.Stream, done.Token);
            await KubeletUpgrade.FinishAsync(socket, toClient, fromClient, done);
        }
    }

    /// <summary>The kubelet's bytes (those read with its response head first) to binary messages; ends when it closes the connection.</summary>
    private static async Task CopyKubeletToClientAsync(BackendConnection backend, WebSocket socket, CancellationToken ct)
    {
        if (backend.Buffered.Length > 0) await socket.SendAsync(backend.Buffered, WebSocketMessageType.Binary, true, ct);
        var buffer = new byte[32 * 1024];
        int read;
        while ((read = await backend.Stream.ReadAsync(buffer, ct)) > 0)
        {
            await socket.SendAsync(buffer.AsMemory(0, read), WebSocketMessageType.Binary, true, ct);
        }
    }

    /// <summary>The client's messages, as a byte stream, to the kubelet; ends with the client's close.</summary>
    private static async Task CopyClientToKubeletAsync(WebSocket socket, Stream kubelet, CancellationToken ct)
    {
        var buffer = new byte[32 * 1024];
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer.AsMemory(), ct);
            if (received.MessageType == WebSocketMessageType.Close) return;
            if (received.Count > 0)
            {
                await kubelet.WriteAsync(buffer.AsMemory(0, received.Count), ct);
                await kubelet.FlushAsync(ct);
            }
        }
    }
}
