using System.Net;

namespace KubeletPS.Core.Api;

/// <summary>
/// A response body read through a stream that wraps the original one, made when the body is first read: how the
/// client pipeline's handlers bound (<see cref="ResponseBodyLimitHandler"/>) or rewrite (<see cref="QuantityExponentHandler"/>)
/// what KubernetesClient reads. Its length is not known in advance; a Content-Length is kept only when
/// sameLength says the wrapper passes the bytes on unchanged.
/// </summary>
internal sealed class WrappedContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly Func<Stream, CancellationToken, Task<Stream>> _wrap;

    public WrappedContent(HttpContent inner, bool sameLength, Func<Stream, CancellationToken, Task<Stream>> wrap)
    {
        (_inner, _wrap) = (inner, wrap);
        foreach (var header in inner.Headers)
        {
            if (sameLength || !header.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
    }

    protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        await _wrap(await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        using var source = await CreateContentReadStreamAsync(cancellationToken).ConfigureAwait(false);
        await source.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _inner.Dispose();
        base.Dispose(disposing);
    }
}
