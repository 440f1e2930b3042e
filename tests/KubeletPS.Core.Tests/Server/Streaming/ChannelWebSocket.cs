using System.Net.WebSockets;
using System.Text;

namespace KubeletPS.Core.Tests.Server.Streaming;

/// <summary>
/// A client of the channel.k8s.io WebSocket protocol (v4.channel.k8s.io), the one containerd's
/// streaming server speaks: every binary message starts with its channel (0 stdin, 1 stdout,
/// 2 stderr, 3 error Status, 4 resize).
/// </summary>
internal sealed class ChannelWebSocket : IDisposable
{
    public const string V4Protocol = "v4.channel.k8s.io";

    private readonly ClientWebSocket _socket = new();
    private readonly Dictionary<int, StringBuilder> _channels = [];

    public string? Subprotocol => _socket.SubProtocol;

    public WebSocketState State => _socket.State;

    public static async Task<ChannelWebSocket> ConnectAsync(Uri url, CancellationToken cancellationToken)
    {
        var client = new ChannelWebSocket();
        client._socket.Options.AddSubProtocol(V4Protocol);
        try
        {
            await client._socket.ConnectAsync(url, cancellationToken);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public Task SendStdinAsync(string text, CancellationToken cancellationToken) =>
        _socket.SendAsync(new byte[] { 0 }.Concat(Encoding.UTF8.GetBytes(text)).ToArray(), WebSocketMessageType.Binary, true, cancellationToken);

    /// <summary>Reads until the server closes: the text of each channel.</summary>
    public async Task<IReadOnlyDictionary<int, string>> ReadToEndAsync(CancellationToken cancellationToken)
    {
        var channels = _channels;
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            WebSocketReceiveResult result;
            try
            {
                result = await _socket.ReceiveAsync(buffer, cancellationToken);
            }
            catch (WebSocketException)
            {
                break; // closed without a close frame: the stream ended
            }

            if (result.MessageType == WebSocketMessageType.Close) break;
            message.Write(buffer, 0, result.Count);
            if (!result.EndOfMessage) continue;
            var bytes = message.ToArray();
            message.SetLength(0);
            if (bytes.Length == 0) continue;
            lock (channels)
            {
                if (!channels.TryGetValue(bytes[0], out var text)) channels[bytes[0]] = text = new StringBuilder();
                text.Append(Encoding.UTF8.GetString(bytes, 1, bytes.Length - 1));
            }
        }

        return Received;
    }

    /// <summary>The text of each channel received so far.</summary>
    public IReadOnlyDictionary<int, string> Received
    {
        get
        {
            lock (_channels) return _channels.ToDictionary(kv => kv.Key, kv => kv.Value.ToString());
        }
    }

    public void Dispose() => _socket.Dispose();
}
