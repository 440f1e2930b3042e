using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace KubeletPS.TestCluster.Streaming;

/// <summary>A frame read from a SPDY/3 connection: a data frame (stream id, flags, payload) or a control frame (type, flags, payload).</summary>
internal sealed record SpdyFrame(bool IsControl, ushort Type, uint StreamId, byte Flags, byte[] Payload)
{
    public const byte FlagFin = 0x01;
    public const ushort SynReply = 2;
    public const ushort RstStream = 3;
    public const ushort Ping = 6;
    public const ushort GoAway = 7;

    public bool Fin => (Flags & FlagFin) != 0;
}

/// <summary>
/// The client half of a SPDY/3 connection (the framing moby/spdystream and the kubelet's streaming server use;
/// "SPDY/3.1" is the upgrade token): client streams get odd ids; SYN_STREAM header blocks are zlib-compressed on one
/// stream for the whole connection, each frame ending in a sync flush. The server's header blocks (SYN_REPLY) are not
/// decoded: nothing in them is needed here. Writes are serialized; one reader calls <see cref="ReadFrameAsync"/>. The stream is the caller's.
/// </summary>
internal sealed class SpdyClientConnection(Stream stream, ReadOnlyMemory<byte> buffered) : IDisposable
{
    private const ushort Version = 3;
    private const ushort SynStream = 1;
    private const int MaxDataLength = 0xFFFFFF;

    private readonly SemaphoreSlim _write = new(1, 1);
    private readonly MemoryStream _compressed = new();
    private ZLibStream? _compressor;
    private ReadOnlyMemory<byte> _buffered = buffered;
    private uint _nextStreamId = 1;

    /// <summary>Opens a stream with <paramref name="headers"/> (names lowercased, as SPDY/3 requires); returns its id.</summary>
    public async Task<uint> OpenStreamAsync(IReadOnlyList<KeyValuePair<string, string>> headers, CancellationToken cancellationToken)
    {
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var id = _nextStreamId;
            _nextStreamId += 2;
            var block = new MemoryStream();
            WriteLength(block, headers.Count);
            foreach (var (name, value) in headers)
            {
                WriteString(block, name.ToLowerInvariant());
                WriteString(block, value);
            }
            _compressor ??= new ZLibStream(_compressed, CompressionLevel.Fastest, leaveOpen: true);
            _compressed.SetLength(0);
            _compressor.Write(block.GetBuffer(), 0, (int)block.Length);
            // A sync flush: the server's decompressor reads exactly this frame's bytes.
            _compressor.Flush();
            var compressed = _compressed.ToArray();
            var frame = new byte[8 + 10 + compressed.Length];
            WriteControlHeader(frame, SynStream, 0, 10 + compressed.Length);
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), id & 0x7FFFFFFF);
            // Associated stream 0, priority 0, slot 0.
            compressed.CopyTo(frame, 18);
            await stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            return id;
        }
        finally
        {
            _write.Release();
        }
    }

    /// <summary>Sends <paramref name="data"/> on a stream (in frames of at most 16 MiB); <paramref name="fin"/> half-closes it after.</summary>
    public async Task SendDataAsync(uint streamId, ReadOnlyMemory<byte> data, bool fin, CancellationToken cancellationToken)
    {
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            do
            {
                var chunk = data[..Math.Min(data.Length, MaxDataLength)];
                data = data[chunk.Length..];
                var header = new byte[8];
                BinaryPrimitives.WriteUInt32BigEndian(header, streamId & 0x7FFFFFFF);
                BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)chunk.Length);
                header[4] = fin && data.IsEmpty ? SpdyFrame.FlagFin : (byte)0;
                await stream.WriteAsync(header, cancellationToken).ConfigureAwait(false);
                if (!chunk.IsEmpty) await stream.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
            }
            while (!data.IsEmpty);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _write.Release();
        }
    }

    /// <summary>Answers a PING with the same id, as SPDY wants.</summary>
    public async Task PongAsync(byte[] payload, CancellationToken cancellationToken)
    {
        await _write.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var frame = new byte[8 + payload.Length];
            WriteControlHeader(frame, SpdyFrame.Ping, 0, payload.Length);
            payload.CopyTo(frame, 8);
            await stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _write.Release();
        }
    }

    /// <summary>The next frame; null when the server closed the connection.</summary>
    public async Task<SpdyFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        var header = new byte[8];
        if (!await ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false)) return null;
        var length = (int)(BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4)) & 0xFFFFFF);
        var flags = header[4];
        var payload = new byte[length];
        if (!await ReadExactlyAsync(payload, cancellationToken).ConfigureAwait(false))
            throw new InvalidDataException($"the SPDY connection ended inside a frame of {length} bytes.");
        if ((header[0] & 0x80) != 0)
        {
            var version = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(header) & 0x7FFF);
            if (version != Version) throw new InvalidDataException($"a SPDY control frame of version {version}, not {Version}.");
            return new SpdyFrame(true, BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2)), 0, flags, payload);
        }
        return new SpdyFrame(false, 0, BinaryPrimitives.ReadUInt32BigEndian(header) & 0x7FFFFFFF, flags, payload);
    }

    private async Task<bool> ReadExactlyAsync(Memory<byte> target, CancellationToken cancellationToken)
    {
        var filled = 0;
        if (!_buffered.IsEmpty && target.Length > 0)
        {
            filled = Math.Min(_buffered.Length, target.Length);
            _buffered[..filled].CopyTo(target);
            _buffered = _buffered[filled..];
        }
        while (filled < target.Length)
        {
            var read = await stream.ReadAsync(target[filled..], cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                if (filled == 0) return false;
                throw new EndOfStreamException("the SPDY connection ended inside a frame.");
            }
            filled += read;
        }
        return true;
    }

    private static void WriteControlHeader(Span<byte> frame, ushort type, byte flags, int length)
    {
        BinaryPrimitives.WriteUInt16BigEndian(frame, 0x8000 | Version);
        BinaryPrimitives.WriteUInt16BigEndian(frame[2..], type);
        BinaryPrimitives.WriteUInt32BigEndian(frame[4..], (uint)length);
        frame[4] = flags;
    }

    private static void WriteLength(Stream s, int value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(b, value);
        s.Write(b);
    }

    private static void WriteString(Stream s, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        WriteLength(s, bytes.Length);
        s.Write(bytes);
    }

    /// <summary>Frees the header compressor; the connection's stream belongs to the caller.</summary>
    public void Dispose()
    {
        _compressor?.Dispose();
        _compressed.Dispose();
        _write.Dispose();
    }
}
