using System.Globalization;

namespace KubeletPS.Core.Runtime.Logs;

public enum ContainerLogStream
{
    Stdout,
    Stderr,
}

/// <summary>One line of a CRI log file: a whole line (F) or a fragment of a long one (P).</summary>
public readonly record struct CriLogLine(DateTimeOffset Timestamp, ContainerLogStream Stream, bool Partial, string Content);

/// <summary>
/// Parses the CRI container log format the runtime writes:
/// <c>2016-10-06T00:17:09.669794202Z stdout F message</c> — an RFC 3339 timestamp with up to
/// nanoseconds, the stream, tags (<c>P</c> partial or <c>F</c> full, optionally followed by
/// <c>:</c>-separated extras), one space, then the content.
/// </summary>
public static class CriLogParser
{
    public static CriLogLine Parse(string line)
        => TryParse(line, out var result, out var error) ? result : throw new FormatException($"malformed CRI log line: {error}: \"{Truncate(line)}\"");

    public static bool TryParse(ReadOnlySpan<char> line, out CriLogLine result) => TryParse(line, out result, out _);

    private static bool TryParse(ReadOnlySpan<char> line, out CriLogLine result, out string error)
    {
        result = default;
        if (line.Length > 0 && line[^1] == '\r')
        {
            line = line[..^1];
        }

        var space = line.IndexOf(' ');
        if (space <= 0)
        {
            error = "missing timestamp";
            return false;
        }

        if (!TryParseTimestamp(line[..space], out var timestamp))
        {
            error = "invalid timestamp";
            return false;
        }

        line = line[(space + 1)..];
        space = line.IndexOf(' ');
        if (space <= 0)
        {
            error = "missing stream";
            return false;
        }

        ContainerLogStream stream;
        if (line[..space].SequenceEqual("stdout"))
        {
            stream = ContainerLogStream.Stdout;
        }
        else if (line[..space].SequenceEqual("stderr"))
        {
            stream = ContainerLogStream.Stderr;
        }
        else
        {
            error = "unknown stream";
            return false;
        }

        line = line[(space + 1)..];
        space = line.IndexOf(' ');
        // An empty full line may be written without the trailing space.
        var tags = space < 0 ? line : line[..space];
        var content = space < 0 ? ReadOnlySpan<char>.Empty : line[(space + 1)..];
        var colon = tags.IndexOf(':');
        var first = colon < 0 ? tags : tags[..colon];
        bool partial;
        if (first.SequenceEqual("P"))
        {
            partial = true;
        }
        else if (first.SequenceEqual("F"))
        {
            partial = false;
        }
        else
        {
            error = "unknown tag";
            return false;
        }

        result = new CriLogLine(timestamp, stream, partial, content.ToString());
        error = string.Empty;
        return true;
    }

    /// <summary>RFC 3339 with up to nine fractional digits (Go's RFC3339Nano); .NET parses only seven.</summary>
    public static bool TryParseTimestamp(ReadOnlySpan<char> text, out DateTimeOffset timestamp)
    {
        timestamp = default;
        if (text.Length < 20 || text[10] != 'T')
        {
            return false;
        }

        if (!DateTime.TryParseExact(text[..19], "yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var seconds))
        {
            return false;
        }

        var rest = text[19..];
        long ticks = 0;
        if (rest.Length > 0 && rest[0] == '.')
        {
            var digits = 0;
            var i = 1;
            for (; i < rest.Length && char.IsAsciiDigit(rest[i]); i++, digits++)
            {
                if (digits < 7)
                {
                    ticks = (ticks * 10) + (rest[i] - '0');
                }
            }

            if (digits == 0)
            {
                return false;
            }

            for (var pad = Math.Min(digits, 7); pad < 7; pad++)
            {
                ticks *= 10;
            }

            rest = rest[i..];
        }

        TimeSpan offset;
        if (rest.SequenceEqual("Z"))
        {
            offset = TimeSpan.Zero;
        }
        else if (rest.Length == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':'
            && int.TryParse(rest[1..3], NumberStyles.None, CultureInfo.InvariantCulture, out var hours)
            && int.TryParse(rest[4..6], NumberStyles.None, CultureInfo.InvariantCulture, out var minutes))
        {
            offset = new TimeSpan(hours, minutes, 0);
            if (rest[0] == '-')
            {
                offset = -offset;
            }
        }
        else
        {
            return false;
        }

        timestamp = new DateTimeOffset(seconds.AddTicks(ticks), offset);
        return true;
    }

    private static string Truncate(string line) => line.Length <= 80 ? line : line[..80] + "…";
}

/// <summary>
/// Joins P fragments into whole lines, per stream, as <c>kubectl logs</c> shows them. A joined line
/// is held up to <see cref="ContainerLogReader.MaxEntryChars"/>: beyond that it is handed on in
/// <see cref="ContainerLogEntry.Partial"/> pieces, so an endless line does not grow one string without bound.
/// </summary>
public sealed class CriLogLineAssembler
{
    private readonly Pending?[] _pending = new Pending?[2];

    /// <summary>Adds a line; the entries it completes (or the pieces it pushes past the bound) go to <paramref name="finished"/>.</summary>
    public void Add(CriLogLine line, List<ContainerLogEntry> finished)
    {
        ArgumentNullException.ThrowIfNull(finished);
        ref var pending = ref _pending[(int)line.Stream];
        if (pending is not null && pending.Text.Length + line.Content.Length > ContainerLogReader.MaxEntryChars)
        {
            finished.Add(new ContainerLogEntry(pending.Timestamp, line.Stream, pending.Text.ToString()) { Partial = true });
            pending = null;
        }
        if (line.Partial)
        {
            pending ??= new Pending(line.Timestamp);
            pending.Text.Append(line.Content);
            return;
        }
        if (pending is null)
        {
            finished.Add(new ContainerLogEntry(line.Timestamp, line.Stream, line.Content));
            return;
        }
        pending.Text.Append(line.Content);
        finished.Add(new ContainerLogEntry(pending.Timestamp, line.Stream, pending.Text.ToString()));
        pending = null;
    }

    /// <summary>
    /// Returns fragments still waiting for their F line (at the end of what the log holds), as <see cref="ContainerLogEntry.Partial"/>
    /// entries: written without a newline, as kubelet writes a P line. An F line after them continues them.
    /// </summary>
    public IEnumerable<ContainerLogEntry> Flush()
    {
        for (var i = 0; i < _pending.Length; i++)
        {
            if (_pending[i] is { } pending)
            {
                _pending[i] = null;
                yield return new ContainerLogEntry(pending.Timestamp, (ContainerLogStream)i, pending.Text.ToString()) { Partial = true };
            }
        }
    }

    private sealed class Pending(DateTimeOffset timestamp)
    {
        public DateTimeOffset Timestamp { get; } = timestamp;
        public System.Text.StringBuilder Text { get; } = new();
    }
}

/// <summary>A whole log line of a container. The timestamp is that of its first fragment.</summary>
public sealed record ContainerLogEntry(DateTimeOffset Timestamp, ContainerLogStream Stream, string Message)
{
    /// <summary>
    /// A piece of a line: of one longer than <see cref="ContainerLogReader.MaxEntryChars"/>, or the P fragments there were when the
    /// reader reached the end of the log (the last output of a container that ended without a newline). Written without a newline;
    /// the next entry of its stream, if any, continues it.
    /// </summary>
    public bool Partial { get; init; }
}
