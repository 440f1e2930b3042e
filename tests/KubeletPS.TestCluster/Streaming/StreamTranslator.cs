using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using KubeletPS.Core.Server.Streaming;
using Microsoft.AspNetCore.Http.Features;

namespace KubeletPS.TestCluster.Streaming;

/// <summary>
/// kube-apiserver 1.32's stream translator for exec and attach (staging/src/k8s.io/apiserver/pkg/util/proxy/streamtranslator.go,
/// TranslateStreamCloseWebsocketRequests, on by default since 1.30): a client's WebSocket with the
/// <c>v5.channel.k8s.io</c> subprotocol (kubectl 1.32's default) is accepted here, and the kubelet is reached over
/// SPDY/3.1 with <c>v4.channel.k8s.io</c>, as client-go's SPDY executor does: an error stream first, then stdin,
/// stdout, stderr (not with a TTY) and resize (with a TTY), each a SPDY stream with a <c>streamType</c> header.
/// WebSocket messages carry a channel byte first: 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize, and in v5 255 with
/// a channel id to close that channel (stdin's end of input becomes a SPDY half-close). The error stream's
/// metav1.Status is passed on unchanged; when the kubelet closes the connection the WebSocket is closed normally.
/// </summary>
internal static class StreamTranslator
{
    public const string V5Protocol = "v5.channel.k8s.io";
    private const string V4Protocol = "v4.channel.k8s.io";
    private const byte StdinChannel = 0, StdoutChannel = 1, StderrChannel = 2, ErrorChannel = 3, ResizeChannel = 4, CloseSignal = 255;

    /// <summary>A WebSocket upgrade offering v5.channel.k8s.io (wsstream.IsWebSocketRequestWithStreamCloseProtocol).</summary>
    public static bool IsV5WebSocketRequest(HttpRequest request) =>
        request.Headers.Upgrade.ToString().Equals("websocket", StringComparison.OrdinalIgnoreCase)
        && !string.IsNullOrEmpty(request.Headers.SecWebSocketKey)
        && request.Headers.SecWebSocketProtocol.SelectMany(p => (p ?? "").Split(',')).Any(p => p.Trim() == V5Protocol);

    /// <summary>
    /// Serves the WebSocket at <paramref name="context"/> by a SPDY connection to the kubelet at <paramref name="location"/>
    /// (its query the kubelet's: input, output, error, tty, command), connecting with <paramref name="tls"/>.
    /// </summary>
    public static async Task TranslateAsync(HttpContext context, Uri location, System.Net.Security.SslClientAuthenticationOptions? tls)
    {
        var aborted = context.RequestAborted;
        var query = System.Web.HttpUtility.ParseQueryString(location.Query);
        bool Flag(string name) => query[name] is "1" or "true";
        var (stdin, stdout, stderr, tty) = (Flag("input"), Flag("output"), Flag("error"), Flag("tty"));

        if (await KubeletUpgrade.RequestAsync(context, location, tls, "POST",
                [new("Connection", "Upgrade"), new("Upgrade", "SPDY/3.1"), new("X-Stream-Protocol-Version", V4Protocol)]) is not (var backend, var head))
            return;
        await using (backend)
        {
            if (head.Header("X-Stream-Protocol-Version") is { } agreed && agreed != V4Protocol)
            {
                await UpgradeAwareProxy.WriteTextAsync(context, StatusCodes.Status500InternalServerError, $"the kubelet agreed on {agreed}, not {V4Protocol}");
                return;
            }

            using var spdy = new SpdyClientConnection(backend.Stream, backend.Buffered);
            var streams = new Dictionary<uint, byte>();
            async Task<uint> Open(string type, byte channel)
            {
                var id = await spdy.OpenStreamAsync([new("streamType", type)], aborted);
                streams[id] = channel;
                return id;
            }
            // client-go's v4 stream creation order.
            await Open("error", ErrorChannel);
            uint? stdinStream = stdin ? await Open("stdin", StdinChannel) : null;
            if (stdout) await Open("stdout", StdoutChannel);
            if (stderr && !tty) await Open("stderr", StderrChannel);
            uint? resizeStream = tty ? await Open("resize", ResizeChannel) : null;

            using var socket = await AcceptWebSocketAsync(context, V5Protocol);
            if (socket is null) return;
            using var done = CancellationTokenSource.CreateLinkedTokenSource(aborted);
            var toClient = CopyKubeletToClientAsync(spdy, streams, socket, done.Token);
            var fromClient = CopyClientToKubeletAsync(socket, spdy, stdinStream, resizeStream, done.Token);
            await KubeletUpgrade.FinishAsync(socket, toClient, fromClient, done);
        }
    }

    /// <summary>The WebSocket handshake (RFC 6455) on the upgrade feature, agreeing on <paramref name="protocol"/>.</summary>
    internal static async Task<WebSocket?> AcceptWebSocketAsync(HttpContext context, string protocol)
    {
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        if (upgrade is null || !upgrade.IsUpgradableRequest)
        {
            await UpgradeAwareProxy.WriteTextAsync(context, StatusCodes.Status400BadRequest, UpgradeAwareProxy.UpgradeRequiredMessage);
            return null;
        }
        var key = context.Request.Headers.SecWebSocketKey.ToString();
        // RFC 6455 fixes SHA-1 for Sec-WebSocket-Accept: a handshake check, not a security hash.
#pragma warning disable CA5350
        var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
        context.Response.StatusCode = StatusCodes.Status101SwitchingProtocols;
        context.Response.Headers.Connection = "Upgrade";
        context.Response.Headers.Upgrade = "websocket";
        context.Response.Headers.SecWebSocketAccept = accept;
        context.Response.Headers.SecWebSocketProtocol = protocol;
        var stream = await upgrade.UpgradeAsync();
        // The protocol is agreed in the header above; WebSocketCreationOptions.SubProtocol would refuse SPDY/3.1+portforward.k8s.io
        // (.NET allows only RFC 2616 token characters there, no '/'), and the WebSocket does not need it.
        return WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.FromSeconds(30) });
    }

    /// <summary>SPDY data to WebSocket messages with the stream's channel byte; ends when the kubelet closes the connection.</summary>
    private static async Task CopyKubeletToClientAsync(SpdyClientConnection spdy, Dictionary<uint, byte> streams, WebSocket socket, CancellationToken ct)
    {
        while (await spdy.ReadFrameAsync(ct) is { } frame)
        {
            if (frame.IsControl)
            {
                if (frame.Type == SpdyFrame.Ping) await spdy.PongAsync(frame.Payload, ct);
                else if (frame.Type == SpdyFrame.GoAway) return;
                continue;
            }
            if (frame.Payload.Length == 0 || !streams.TryGetValue(frame.StreamId, out var channel)) continue;
            var message = new byte[frame.Payload.Length + 1];
            message[0] = channel;
            frame.Payload.CopyTo(message, 1);
            await socket.SendAsync(message, WebSocketMessageType.Binary, true, ct);
        }
    }

    /// <summary>WebSocket messages to SPDY: stdin and resize data, and v5's close signal for stdin as a half-close.</summary>
    private static async Task CopyClientToKubeletAsync(WebSocket socket, SpdyClientConnection spdy, uint? stdinStream, uint? resizeStream, CancellationToken ct)
    {
        var buffer = new byte[32 * 1024];
        var message = new MemoryStream();
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer, ct);
            if (received.MessageType == WebSocketMessageType.Close) return;
            message.Write(buffer, 0, received.Count);
            if (!received.EndOfMessage) continue;
            var data = message.ToArray();
            message.SetLength(0);
            if (data.Length == 0) continue;
            var payload = data.AsMemory(1);
            switch (data[0])
            {
                case StdinChannel when stdinStream is { } id:
                    await spdy.SendDataAsync(id, payload, false, ct);
                    break;
                case ResizeChannel when resizeStream is { } id:
                    await spdy.SendDataAsync(id, payload, false, ct);
                    break;
                case CloseSignal when payload.Length > 0 && payload.Span[0] == StdinChannel && stdinStream is { } id:
                    await spdy.SendDataAsync(id, ReadOnlyMemory<byte>.Empty, true, ct);
                    break;
            }
        }
    }
}
