using System.Net.Sockets;

namespace KubeletPS.Core.Api;

/// <summary>
/// The connections an API client has open, so that they can all be closed at once (client-go util/connrotation's
/// Dialer, which kubelet's transport.go uses: when the client certificate rotates, every connection is closed so that
/// long-lived watches reconnect and the server sees the new certificate; HTTP/2 would otherwise keep one connection,
/// and its old certificate, for ever). Installed as a SocketsHttpHandler's ConnectCallback.
/// </summary>
public sealed class ApiConnectionTracker
{
    private readonly object _lock = new();
    private readonly HashSet<NetworkStream> _open = [];

    /// <summary>How many connections are open now.</summary>
    public int Count
    {
        get { lock (_lock) return _open.Count; }
    }

    /// <summary>SocketsHttpHandler.ConnectCallback: a TCP connection (no delay) that is remembered until closed.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var stream = new TrackedStream(socket, this);
        lock (_lock) _open.Add(stream);
        return stream;
    }

    /// <summary>Closes every open connection; requests on them fail and are retried by their callers on new ones.</summary>
    public int CloseAll()
    {
        List<NetworkStream> open;
        lock (_lock)
        {
            open = [.. _open];
            _open.Clear();
        }
        foreach (var stream in open) stream.Dispose();
        return open.Count;
    }

    private void Forget(NetworkStream stream)
    {
        lock (_lock) _open.Remove(stream);
    }

    private sealed class TrackedStream(Socket socket, ApiConnectionTracker tracker) : NetworkStream(socket, ownsSocket: true)
    {
        protected override void Dispose(bool disposing)
        {
            tracker.Forget(this);
            base.Dispose(disposing);
        }
    }
}
