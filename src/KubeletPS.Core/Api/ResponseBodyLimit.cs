namespace KubeletPS.Core.Api;

/// <summary>A response body longer than the client accepts: the request was abandoned before it was read whole.</summary>
/// <remarks>An <see cref="IOException"/>, as a connection that breaks mid-body, so every caller that survives one survives this.</remarks>
public sealed class ResponseTooLargeException(string message) : IOException(message);

/// <summary>
/// Bounds what KubernetesClient reads of a response. Its lists are deserialized from the whole stream, its error bodies read
/// as one string and its watch events read line by line, none with a limit (HttpClient.MaxResponseContentBufferSize does not
/// apply to the ResponseHeadersRead streams it uses): a server, or anyone between it and a node that skips TLS verification,
/// could send an endless list or one endless watch line and exhaust the node's memory. A watch (<c>watch=true</c>) may run
/// for ever, so there the limit is on each line, one event; otherwise on the whole body.
/// </summary>
public sealed class ResponseBodyLimitHandler(long maxBytes) : DelegatingHandler
{
    /// <summary>As ApiRequestOptions.MaxResponseBytes: the API server's own request limit is 3 MiB an object, a list of thousands is tens of MiB.</summary>
    public const long DefaultMaxBytes = 64L * 1024 * 1024;

    public long MaxBytes { get; } = maxBytes > 0 ? maxBytes : throw new ArgumentOutOfRangeException(nameof(maxBytes), maxBytes, "the limit must be positive");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var uri = request.RequestUri?.ToString() ?? "";
        var perLine = IsWatch(request.RequestUri);
        var what = $"{request.Method} {uri}";
        if (!perLine && response.Content.Headers.ContentLength is { } length && length > MaxBytes)
        {
            response.Dispose();
            throw TooLarge(what, MaxBytes, perLine: false, declared: length);
        }
        response.Content = new WrappedContent(response.Content, sameLength: true, (body, _) => Task.FromResult<Stream>(new BoundedReadStream(body, MaxBytes, perLine, what)));
        return response;
    }

    internal static bool IsWatch(Uri? uri) =>
        uri is not null && uri.Query.TrimStart('?').Split('&').Any(p => p.Equals("watch=true", StringComparison.OrdinalIgnoreCase) || p.Equals("watch=1", StringComparison.Ordinal));

    internal static ResponseTooLargeException TooLarge(string what, long limit, bool perLine, long? declared = null) => new(
        $"The response to {what} is larger than the {Size(limit)} limit{(perLine ? " for one watch event" : "")}" +
        (declared is { } d ? $" (Content-Length {d})" : "") + "; it was not read further.");

    internal static string Size(long bytes) => bytes % (1024 * 1024) == 0 ? $"{bytes / (1024 * 1024)} MiB" : $"{bytes} bytes";

    /// <summary>Counts what is read (all of it, or since the last newline) and fails once the count passes the limit.</summary>
    private sealed class BoundedReadStream(Stream inner, long limit, bool perLine, string what) : Stream
    {
        private long _count;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(buffer.AsSpan(offset, inner.Read(buffer, offset, count)));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            return Count(buffer.Span[..read]);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Count(ReadOnlySpan<byte> read)
        {
            if (perLine && read.LastIndexOf((byte)'\n') is var newline and >= 0)
            {
                if (_count + read.IndexOf((byte)'\n') > limit) throw TooLarge(what, limit, perLine);
                _count = read.Length - newline - 1;
            }
            else
            {
                _count += read.Length;
            }
            if (_count > limit) throw TooLarge(what, limit, perLine);
            return read.Length;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
