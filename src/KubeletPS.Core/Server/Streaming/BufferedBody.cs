using System.Globalization;
using System.Text;

namespace KubeletPS.Core.Server.Streaming;

/// <summary>Reads an HTTP/1.1 response body from bytes already read plus the rest of the stream.</summary>
internal sealed class BufferedBody(ReadOnlyMemory<byte> buffered, Stream stream)
{
    private ReadOnlyMemory<byte> _buffered = buffered;

    public async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        var result = new byte[count];
        var filled = 0;
        while (filled < count)
        {
            var read = await ReadAsync(result.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            filled += read;
        }

        return filled == count ? result : result[..filled];
    }

    public async Task<byte[]> ReadToEndAsync(int limit, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream();
        var chunk = new byte[8192];
        while (body.Length < limit)
        {
            var read = await ReadAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, limit - body.Length)), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            body.Write(chunk, 0, read);
        }

        return body.ToArray();
    }

    public async Task<byte[]> ReadChunkedAsync(int limit, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream();
        while (body.Length < limit)
        {
            var sizeLine = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
            var semicolon = sizeLine.IndexOf(';', StringComparison.Ordinal);
            var sizeText = (semicolon >= 0 ? sizeLine[..semicolon] : sizeLine).Trim();
            if (!int.TryParse(sizeText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size < 0)
            {
                throw new InvalidDataException($"the backend sent a malformed chunk size '{sizeLine}'");
            }

            if (size == 0)
            {
                break;
            }

            var data = await ReadExactlyAsync(Math.Min(size, limit - (int)body.Length), cancellationToken).ConfigureAwait(false);
            body.Write(data);
            if (data.Length < size)
            {
                break;
            }

            await ReadLineAsync(cancellationToken).ConfigureAwait(false);
        }

        return body.ToArray();
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (line.Length < 4096)
        {
            if (await ReadAsync(one, cancellationToken).ConfigureAwait(false) == 0)
            {
                break;
            }

            if (one[0] == '\n')
            {
                return line.ToString().TrimEnd('\r');
            }

            line.Append((char)one[0]);
        }

        return line.ToString();
    }

    private async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (!_buffered.IsEmpty)
        {
            var count = Math.Min(destination.Length, _buffered.Length);
            _buffered[..count].CopyTo(destination);
            _buffered = _buffered[count..];
            return count;
        }

        return await stream.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
    }
}
