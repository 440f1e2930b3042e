using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Text;

namespace KubeletPS.Core.Runtime.Logs;

public sealed record ContainerLogReadOptions
{
    /// <summary>Only the last N lines already in the file (then new ones when following); null for all.</summary>
    public int? Tail { get; init; }

    /// <summary>Keep reading lines as the container writes them until cancelled.</summary>
    public bool Follow { get; init; }

    /// <summary>Skip lines older than this.</summary>
    public DateTimeOffset? Since { get; init; }

    /// <summary>Only this stream; null for both.</summary>
    public ContainerLogStream? Stream { get; init; }

    /// <summary>How often to look for new lines when following.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Called for each line that is not in CRI format; such lines are skipped, as the kubelet does.</summary>
    public Action<string>? OnMalformedLine { get; init; }

    /// <summary>Called for a rotated file that is skipped (not a regular file in the log's directory, or corrupt), with the reason.</summary>
    public Action<string, string>? OnUnreadableFile { get; init; }
}

/// <summary>
/// Reads a container's log as the runtime and kubelet's log manager leave it: the rotated files
/// oldest first (gzipped ones decompressed, see <see cref="ContainerLogFiles"/>), then the file the
/// runtime writes. Polls when following: it works the same on every filesystem, and the runtime
/// flushes per line. A rotation while following (the file renamed, the runtime reopening a new one)
/// is followed: the old file is read to its end, then the new one from its start.
/// </summary>
public static class ContainerLogReader
{
    /// <summary>The longest line of a log file kept; the rest of a longer one is dropped.</summary>
    public const int MaxLineBytes = 1 << 20;

    /// <summary>The longest entry joined from P fragments; a longer one is returned in partial entries of this size.</summary>
    public const int MaxEntryChars = 1 << 20;

    /// <summary>Reads a container's log; with <see cref="ContainerLogReadOptions.Follow"/> it runs until cancelled.</summary>
    /// <exception cref="FileNotFoundException">The log file does not exist (and we are not following).</exception>
    public static async IAsyncEnumerable<ContainerLogEntry> ReadAsync(string path, ContainerLogReadOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new ContainerLogReadOptions();
        if (options.Tail is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Tail, "Tail must not be negative.");
        }

        var cursor = new LogCursor(options);
        var buffer = new byte[64 * 1024];

        // The rotated files are finished: each is read to its end.
        foreach (var rotated in ContainerLogFiles.AllLogs(path).SkipLast(1))
        {
            // Nothing in a file last written before Since is wanted.
            if (options.Since is { } since && File.GetLastWriteTimeUtc(rotated) < since.UtcDateTime) continue;
            var source = OpenRotated(rotated, options);
            if (source is null) continue;
            try
            {
                while (await ReadChunkAsync(source, rotated, buffer, cursor, options, cancellationToken).ConfigureAwait(false) is var ready && ready >= 0)
                {
                    foreach (var entry in cursor.Take()) yield return entry;
                    if (ready == 0) break;
                }
                cursor.EndOfFile();
                foreach (var entry in cursor.Take()) yield return entry;
            }
            finally
            {
                await source.DisposeAsync().ConfigureAwait(false);
            }
        }

        long position = 0;
        FileStream? stream = null;
        var replaced = false;
        try
        {
            while (true)
            {
                if (stream is null)
                {
                    stream = ContainerLogFiles.OpenNoFollow(path);
                    if (stream is null)
                    {
                        if (!options.Follow)
                        {
                            throw new FileNotFoundException($"container log {path} does not exist", path);
                        }

                        await Task.Delay(options.PollInterval, cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    position = 0;
                }

                var read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (read > 0)
                {
                    position += read;
                    cursor.Feed(buffer.AsSpan(0, read));
                    foreach (var entry in cursor.Take()) yield return entry;
                    continue;
                }

                // End of what is there now.
                if (replaced)
                {
                    // The renamed file is read to its end: go on with the one the runtime reopened.
                    cursor.EndOfFile();
                    foreach (var entry in cursor.Take()) yield return entry;
                    await stream.DisposeAsync().ConfigureAwait(false);
                    stream = null;
                    replaced = false;
                    continue;
                }

                if (!options.Follow)
                {
                    cursor.EndOfFile();
                    cursor.Flush();
                    foreach (var entry in cursor.ReleaseTail()) yield return entry;
                    foreach (var entry in cursor.Take()) yield return entry;
                    yield break;
                }

                // Caught up: P fragments still waiting for their F line go out as they are, as kubelet's ReadLogs prints
                // P lines as they come; the last output of a container that ended without a newline is such a P line.
                cursor.Flush();
                foreach (var entry in cursor.ReleaseTail()) yield return entry;
                foreach (var entry in cursor.Take()) yield return entry;

                await Task.Delay(options.PollInterval, cancellationToken).ConfigureAwait(false);

                // Rotation: the kubelet renamed the file and the runtime reopened a new one under the same
                // name (another inode). Read what is left of ours first: the runtime may have written to it
                // until it reopened. Truncation in place (same file, shorter): start over on it.
                if (ContainerLogFiles.IsReplaced(stream, path))
                {
                    replaced = true;
                }
                else if (new FileInfo(path) is var info && (!info.Exists ? !OperatingSystem.IsLinux() : info.Length < position))
                {
                    await stream.DisposeAsync().ConfigureAwait(false);
                    stream = null;
                    cursor.DropPartialLine();
                }
            }
        }
        finally
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Reads all whole entries of a finished log file.</summary>
    public static async Task<IReadOnlyList<ContainerLogEntry>> ReadAllAsync(string path, int? tail = null, CancellationToken cancellationToken = default)
    {
        var entries = new List<ContainerLogEntry>();
        await foreach (var entry in ReadAsync(path, new ContainerLogReadOptions { Tail = tail }, cancellationToken).ConfigureAwait(false))
        {
            entries.Add(entry);
        }

        return entries;
    }

    /// <summary>Parses CRI log text (for tests and tools that already hold the content).</summary>
    public static IReadOnlyList<ContainerLogEntry> Parse(string text, Action<string>? onMalformedLine = null)
    {
        var cursor = new LogCursor(new ContainerLogReadOptions { OnMalformedLine = onMalformedLine });
        cursor.Feed(Encoding.UTF8.GetBytes(text));
        cursor.EndOfFile();
        cursor.Flush();
        return [.. cursor.Take()];
    }

    private static Stream? OpenRotated(string path, ContainerLogReadOptions options)
    {
        try
        {
            var file = ContainerLogFiles.OpenNoFollow(path);
            if (file is null) return null; // removed by the log manager since it was listed
            return path.EndsWith(ContainerLogFiles.CompressSuffix, StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        }
        catch (IOException e)
        {
            options.OnUnreadableFile?.Invoke(path, e.Message);
            return null;
        }
    }

    /// <summary>Reads one chunk of a rotated file into the cursor: its size, 0 at the end, -1 when the file cannot be read further (reported).</summary>
    private static async Task<int> ReadChunkAsync(Stream source, string path, byte[] buffer, LogCursor cursor, ContainerLogReadOptions options, CancellationToken ct)
    {
        int read;
        try
        {
            read = await source.ReadAsync(buffer, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            // A corrupt or truncated gzip: what was read of it stays, the rest of it is skipped.
            options.OnUnreadableFile?.Invoke(path, e.Message);
            cursor.DropPartialLine();
            return -1;
        }

        cursor.Feed(buffer.AsSpan(0, read));
        return read;
    }

    /// <summary>
    /// Bytes to lines to entries across the files of one log: lines bounded by <see cref="MaxLineBytes"/>,
    /// P fragments joined (across a rotation too), the filters applied, and the last Tail entries held
    /// back until the end of what is there.
    /// </summary>
    private sealed class LogCursor(ContainerLogReadOptions options)
    {
        private readonly CriLogLineAssembler _assembler = new();
        private readonly MemoryStream _leftover = new();
        private readonly List<ContainerLogEntry> _finished = [];
        private readonly List<ContainerLogEntry> _ready = [];
        private Queue<ContainerLogEntry>? _tail = options.Tail is { } n ? new Queue<ContainerLogEntry>(Math.Min(n, 4096) + 1) : null;
        private bool _dropping;

        public void Feed(ReadOnlySpan<byte> chunk)
        {
            while (true)
            {
                var newline = chunk.IndexOf((byte)'\n');
                var part = newline < 0 ? chunk : chunk[..newline];
                if (!_dropping)
                {
                    // A longer line keeps its first MaxLineBytes; the rest up to its newline is dropped.
                    var room = MaxLineBytes - (int)_leftover.Length;
                    _leftover.Write(part[..Math.Min(room, part.Length)]);
                    _dropping = part.Length > room;
                }
                if (newline < 0) return;
                Line();
                chunk = chunk[(newline + 1)..];
            }
        }

        /// <summary>The end of a finished file: a last line without its newline counts.</summary>
        public void EndOfFile()
        {
            if (_leftover.Length > 0) Line();
            _dropping = false;
        }

        public void DropPartialLine()
        {
            _leftover.SetLength(0);
            _dropping = false;
        }

        /// <summary>The entries ready to hand out (none while the tail is still being collected).</summary>
        public List<ContainerLogEntry> Take()
        {
            if (_tail is not null || _ready.Count == 0) return [];
            var ready = new List<ContainerLogEntry>(_ready);
            _ready.Clear();
            return ready;
        }

        /// <summary>The end of what is there: the last Tail entries go out, and from now on every entry.</summary>
        public List<ContainerLogEntry> ReleaseTail()
        {
            if (_tail is null) return [];
            var tail = _tail.ToList();
            _tail = null;
            return tail;
        }

        /// <summary>Fragments still waiting for their F line when nothing more is there (the end of a log, or caught up while following).</summary>
        public void Flush()
        {
            foreach (var entry in _assembler.Flush()) Keep(entry);
        }

        private void Line()
        {
            var line = Encoding.UTF8.GetString(_leftover.GetBuffer(), 0, (int)_leftover.Length);
            _leftover.SetLength(0);
            _dropping = false;
            if (!CriLogParser.TryParse(line, out var parsed))
            {
                if (line.Length > 0) options.OnMalformedLine?.Invoke(line);
                return;
            }
            _assembler.Add(parsed, _finished);
            foreach (var entry in _finished) Keep(entry);
            _finished.Clear();
        }

        private void Keep(ContainerLogEntry entry)
        {
            if ((options.Stream is not null && options.Stream != entry.Stream) || (options.Since is not null && entry.Timestamp < options.Since)) return;
            if (_tail is null)
            {
                _ready.Add(entry);
                return;
            }
            _tail.Enqueue(entry);
            if (_tail.Count > options.Tail) _tail.Dequeue();
        }
    }
}
