using System.Runtime.CompilerServices;
using System.Text;

namespace KubeletPS.Core.Runtime;

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
}

/// <summary>
/// Reads a container log file written by a CRI runtime (the file <c>kubectl logs</c> serves).
/// Polls when following: it works the same on every filesystem, and the runtime flushes per line.
/// </summary>
public static class ContainerLogReader
{
    /// <summary>Reads a log file; with <see cref="ContainerLogReadOptions.Follow"/> it runs until cancelled.</summary>
    /// <exception cref="FileNotFoundException">The log file does not exist (and we are not following).</exception>
    public static async IAsyncEnumerable<ContainerLogEntry> ReadAsync(string path, ContainerLogReadOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new ContainerLogReadOptions();
        if (options.Tail is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Tail, "Tail must not be negative.");
        }

        var assembler = new CriLogLineAssembler();
        // While reading what is already there, keep only the last Tail entries.
        Queue<ContainerLogEntry>? tail = options.Tail is { } n ? new Queue<ContainerLogEntry>(Math.Min(n, 4096) + 1) : null;
        var leftover = new MemoryStream();
        var buffer = new byte[64 * 1024];
        long position = 0;

        FileStream? stream = null;
        try
        {
            while (true)
            {
                if (stream is null)
                {
                    stream = TryOpen(path);
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
                    foreach (var line in SplitLines(leftover, buffer.AsSpan(0, read)))
                    {
                        if (Accept(line, assembler, options) is { } entry)
                        {
                            if (tail is not null)
                            {
                                tail.Enqueue(entry);
                                if (tail.Count > options.Tail)
                                {
                                    tail.Dequeue();
                                }
                            }
                            else
                            {
                                yield return entry;
                            }
                        }
                    }

                    continue;
                }

                // End of what is there now.
                if (tail is not null)
                {
                    while (tail.TryDequeue(out var entry))
                    {
                        yield return entry;
                    }

                    tail = null;
                }

                if (!options.Follow)
                {
                    if (leftover.Length > 0 && Accept(Encoding.UTF8.GetString(leftover.GetBuffer(), 0, (int)leftover.Length), assembler, options) is { } last)
                    {
                        yield return last;
                    }

                    foreach (var entry in assembler.Flush())
                    {
                        if (Wanted(entry, options))
                        {
                            yield return entry;
                        }
                    }

                    yield break;
                }

                await Task.Delay(options.PollInterval, cancellationToken).ConfigureAwait(false);

                // Rotation or truncation: the kubelet renames the file and the runtime reopens a new,
                // shorter one under the same name. Start over on it. A new file that already grew past
                // our position before this poll goes unnoticed (.NET does not expose the inode to compare);
                // with a 200 ms poll and 10 MiB rotation that needs a very chatty container.
                var length = CurrentLength(path);
                if (length is null || length < position)
                {
                    await stream.DisposeAsync().ConfigureAwait(false);
                    stream = null;
                    leftover.SetLength(0);
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
        var options = new ContainerLogReadOptions { OnMalformedLine = onMalformedLine };
        var assembler = new CriLogLineAssembler();
        var entries = new List<ContainerLogEntry>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length > 0 && Accept(line, assembler, options) is { } entry)
            {
                entries.Add(entry);
            }
        }

        entries.AddRange(assembler.Flush());
        return entries;
    }

    private static ContainerLogEntry? Accept(string line, CriLogLineAssembler assembler, ContainerLogReadOptions options)
    {
        if (!CriLogParser.TryParse(line, out var parsed))
        {
            if (line.Length > 0)
            {
                options.OnMalformedLine?.Invoke(line);
            }

            return null;
        }

        return assembler.Add(parsed) is { } entry && Wanted(entry, options) ? entry : null;
    }

    private static bool Wanted(ContainerLogEntry entry, ContainerLogReadOptions options)
        => (options.Stream is null || options.Stream == entry.Stream)
        && (options.Since is null || entry.Timestamp >= options.Since);

    private static List<string> SplitLines(MemoryStream leftover, ReadOnlySpan<byte> chunk)
    {
        var lines = new List<string>();
        while (true)
        {
            var newline = chunk.IndexOf((byte)'\n');
            if (newline < 0)
            {
                leftover.Write(chunk);
                return lines;
            }

            if (leftover.Length > 0)
            {
                leftover.Write(chunk[..newline]);
                lines.Add(Encoding.UTF8.GetString(leftover.GetBuffer(), 0, (int)leftover.Length));
                leftover.SetLength(0);
            }
            else
            {
                lines.Add(Encoding.UTF8.GetString(chunk[..newline]));
            }

            chunk = chunk[(newline + 1)..];
        }
    }

    private static FileStream? TryOpen(string path)
    {
        try
        {
            return new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.ReadWrite | FileShare.Delete,
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
            });
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
    }

    private static long? CurrentLength(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? info.Length : null;
    }
}
