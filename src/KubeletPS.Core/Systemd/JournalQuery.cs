using System.Globalization;

namespace KubeletPS.Core.Systemd;

/// <summary>What to read from the journal; <see cref="Arguments"/> is journalctl's command line for it.</summary>
public sealed record JournalQuery
{
    /// <summary>journalctl -u for each (globs allowed); none means every entry.</summary>
    public IReadOnlyList<string> Units { get; init; } = [];
    public DateTimeOffset? Since { get; init; }
    public DateTimeOffset? Until { get; init; }
    /// <summary>The last N entries (journalctl -n).</summary>
    public int? Tail { get; init; }
    /// <summary>Keep reading entries as they are written (journalctl -f).</summary>
    public bool Follow { get; init; }
    /// <summary>journalctl -p: a name (err), a number (3) or a range (warning..err).</summary>
    public string? Priority { get; init; }
    /// <summary>journalctl -g: a PCRE2 pattern matched against MESSAGE.</summary>
    public string? Grep { get; init; }
    /// <summary>A journal file (--file) or a directory of them (--directory), e.g. copied from another node.</summary>
    public string? JournalPath { get; init; }

    private static readonly string[] PriorityWords = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "0", "1", "2", "3", "4", "5", "6", "7"];

    /// <summary>journalctl's arguments for this query (JSON output, every field whole, no pager).</summary>
    /// <exception cref="KubeletException">The priority is not journalctl's, or Since is after Until.</exception>
    public IReadOnlyList<string> Arguments()
    {
        var arguments = new List<string> { "--output=json", "--all", "--no-pager", "--quiet" };
        if (JournalPath is { } path)
        {
            arguments.Add(Directory.Exists(path) ? "--directory=" + path : "--file=" + path);
        }
        foreach (var unit in Units) arguments.Add("--unit=" + SystemdUnits.UnitName(unit));
        if (Since is { } since) arguments.Add("--since=" + Timestamp(since));
        if (Until is { } until) arguments.Add("--until=" + Timestamp(until));
        if (Since is { } s && Until is { } u && s > u)
            throw new KubeletException($"Since ({Timestamp(s)}) is after Until ({Timestamp(u)}).", KubeletErrorKind.InvalidArgument, "Since");
        if (Tail is { } tail) arguments.Add("--lines=" + tail.ToString(CultureInfo.InvariantCulture));
        if (Priority is { } priority)
        {
            var ends = priority.Split("..");
            if (ends.Length > 2 || ends.Any(e => !PriorityWords.Contains(e, StringComparer.Ordinal)))
                throw new KubeletException($"Priority \"{priority}\" is not one of emerg, alert, crit, err, warning, notice, info, debug (or 0-7, or a range such as warning..err).",
                    KubeletErrorKind.InvalidArgument, "Priority");
            arguments.Add("--priority=" + priority);
        }
        if (Grep is { } grep) arguments.Add("--grep=" + grep);
        if (Follow) arguments.Add("--follow");
        return arguments;
    }

    /// <summary>A timestamp as systemd.time(7) reads it, in UTC with microseconds.</summary>
    internal static string Timestamp(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture) + " UTC";
}
