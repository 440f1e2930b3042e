using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace KubeletPS.Core.Server.Streaming;

/// <summary>The status line and headers of the backend's answer to an upgrade request.</summary>
public sealed record BackendResponseHead(int StatusCode, string ReasonPhrase, IReadOnlyList<KeyValuePair<string, string>> Headers)
{
    public string? Header(string name) =>
        Headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;
}

/// <summary>
/// One HTTP/1.1 connection to the backend of an upgrade request (the runtime's streaming server,
/// or a kubelet): the request head is written by hand, as upgradeaware.go's DialForUpgrade
/// does with <c>req.Write(conn)</c>, because an upgraded connection must be a raw byte stream
/// afterwards, which <see cref="HttpClient"/> does not hand out for HTTP/1.1 upgrades.
/// </summary>
public sealed class BackendConnection : IAsyncDisposable
{
    /// <summary>A response head longer than this is refused (Go's http.DefaultMaxHeaderBytes is 1 MiB).</summary>
    public const int MaxResponseHeadBytes = 1 << 20;

    private readonly Socket _socket;
    private byte[] _buffered = [];

    private BackendConnection(Socket socket, Stream stream)
    {
        _socket = socket;
        Stream = stream;
    }

    /// <summary>The byte stream to the backend (TLS when the URL is https).</summary>
    public Stream Stream { get; }

    /// <summary>Bytes the backend sent after its response head (already the upgraded protocol).</summary>
    public ReadOnlyMemory<byte> Buffered => _buffered;

    /// <summary>
    /// Connects to <paramref name="location"/>'s host and port; for https, authenticates with
    /// <paramref name="tls"/> (client certificate, server validation) and the URL's host as target.
    /// </summary>
    public static async Task<BackendConnection> ConnectAsync(Uri location, SslClientAuthenticationOptions? tls, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(location);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(location.DnsSafeHost, location.Port, cancellationToken).ConfigureAwait(false);
            Stream stream = new NetworkStream(socket, ownsSocket: false);
            if (location.Scheme == Uri.UriSchemeHttps)
            {
                if (tls is null)
                {
                    throw new InvalidOperationException($"no TLS client options for the https backend {location.GetLeftPart(UriPartial.Authority)}");
                }

                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                var options = Clone(tls);
                options.TargetHost ??= location.DnsSafeHost;
                // An upgraded stream is HTTP/1.1 only (no upgrade in HTTP/2).
                options.ApplicationProtocols = [SslApplicationProtocol.Http11];
                await ssl.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
                stream = ssl;
            }

            return new BackendConnection(socket, stream);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Writes <c>METHOD path?query HTTP/1.1</c>, Host and <paramref name="headers"/>; no body.</summary>
    public async Task WriteRequestHeadAsync(string method, Uri location, IEnumerable<KeyValuePair<string, string>> headers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(location);
        ArgumentNullException.ThrowIfNull(headers);
        var head = new StringBuilder();
        head.Append(CultureInfo.InvariantCulture, $"{method} {location.PathAndQuery} HTTP/1.1\r\n");
        head.Append(CultureInfo.InvariantCulture, $"Host: {location.Authority}\r\n");
        foreach (var (name, value) in headers)
        {
            if (name.AsSpan().IndexOfAny("\r\n:") >= 0 || value.AsSpan().IndexOfAny('\r', '\n') >= 0)
            {
                throw new ArgumentException($"header {name} cannot be forwarded: it contains a line break or colon", nameof(headers));
            }

            head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }

        head.Append("\r\n");
        await Stream.WriteAsync(Encoding.Latin1.GetBytes(head.ToString()), cancellationToken).ConfigureAwait(false);
        await Stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads the response head up to the blank line; bytes after it stay in <see cref="Buffered"/>.</summary>
    public async Task<BackendResponseHead> ReadResponseHeadAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[8192];
        var filled = 0;
        while (true)
        {
            var end = IndexOfHeadEnd(buffer.AsSpan(0, filled));
            if (end >= 0)
            {
                _buffered = buffer.AsSpan(end + 4, filled - end - 4).ToArray();
                return ParseHead(Encoding.Latin1.GetString(buffer, 0, end));
            }

            if (filled == buffer.Length)
            {
                if (buffer.Length >= MaxResponseHeadBytes)
                {
                    throw new InvalidDataException($"the backend's response head is longer than {MaxResponseHeadBytes} bytes");
                }

                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var read = await Stream.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new EndOfStreamException("the backend closed the connection before it answered the upgrade request");
            }

            filled += read;
        }
    }

    /// <summary>
    /// Reads the body of a non-upgrade answer (an error): Content-Length bytes, chunked, or until
    /// the backend closes; at most <paramref name="limit"/> bytes.
    /// </summary>
    public async Task<byte[]> ReadBodyAsync(BackendResponseHead head, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(head);
        var reader = new BufferedBody(_buffered, Stream);
        _buffered = [];
        if (string.Equals(head.Header("Transfer-Encoding"), "chunked", StringComparison.OrdinalIgnoreCase))
        {
            return await reader.ReadChunkedAsync(limit, cancellationToken).ConfigureAwait(false);
        }

        if (long.TryParse(head.Header("Content-Length"), NumberStyles.None, CultureInfo.InvariantCulture, out var length))
        {
            return await reader.ReadExactlyAsync((int)Math.Min(length, limit), cancellationToken).ConfigureAwait(false);
        }

        return head.StatusCode is 204 or 304 ? [] : await reader.ReadToEndAsync(limit, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }

    private static int IndexOfHeadEnd(ReadOnlySpan<byte> data) => data.IndexOf("\r\n\r\n"u8);

    private static BackendResponseHead ParseHead(string head)
    {
        var lines = head.Split("\r\n");
        // HTTP/1.1 101 Switching Protocols
        var status = lines[0].Split(' ', 3);
        if (status.Length < 2 || !status[0].StartsWith("HTTP/1.", StringComparison.Ordinal)
            || !int.TryParse(status[1], NumberStyles.None, CultureInfo.InvariantCulture, out var code) || code is < 100 or > 999)
        {
            throw new InvalidDataException($"the backend answered with a malformed status line '{lines[0]}'");
        }

        var headers = new List<KeyValuePair<string, string>>();
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw new InvalidDataException($"the backend answered with a malformed header line '{line}'");
            }

            headers.Add(new(line[..colon].Trim(), line[(colon + 1)..].Trim()));
        }

        return new BackendResponseHead(code, status.Length > 2 ? status[2] : "", headers);
    }

    private static SslClientAuthenticationOptions Clone(SslClientAuthenticationOptions o) => new()
    {
        TargetHost = o.TargetHost,
        ClientCertificates = o.ClientCertificates,
        ClientCertificateContext = o.ClientCertificateContext,
        LocalCertificateSelectionCallback = o.LocalCertificateSelectionCallback,
        RemoteCertificateValidationCallback = o.RemoteCertificateValidationCallback,
        EnabledSslProtocols = o.EnabledSslProtocols,
        CertificateRevocationCheckMode = o.CertificateRevocationCheckMode,
        CertificateChainPolicy = o.CertificateChainPolicy,
    };
}
