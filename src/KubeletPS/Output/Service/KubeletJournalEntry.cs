using KubeletPS.Core.Systemd;

namespace KubeletPS.Output;

/// <summary>One journal entry from Get-KubeletLog (journalctl -o json), with the agent's own fields.</summary>
public sealed class KubeletJournalEntry
{
    internal KubeletJournalEntry(JournalEntry entry)
    {
        Time = entry.Time;
        Unit = entry.Unit;
        Priority = entry.Priority;
        PriorityName = entry.PriorityName;
        Pid = entry.Pid;
        Message = entry.Message;
        Hostname = entry.Hostname;
        SyslogIdentifier = entry.SyslogIdentifier;
        Pod = entry.Pod;
        Namespace = entry.Namespace;
        Container = entry.Container;
        Reason = entry.Reason;
        Verbosity = entry.Verbosity;
        Cursor = entry.Cursor;
        Fields = new Dictionary<string, string>(entry.Fields, StringComparer.Ordinal);
    }

    /// <summary>When journald received the entry (UTC).</summary>
    public DateTimeOffset Time { get; }

    /// <summary>The unit the entry is about.</summary>
    public string? Unit { get; }

    /// <summary>0 (emerg) … 7 (debug).</summary>
    public int Priority { get; }

    /// <summary>emerg, alert, crit, err, warning, notice, info or debug.</summary>
    public string PriorityName { get; }

    public int? Pid { get; }
    public string Message { get; }
    public string? Hostname { get; }
    public string? SyslogIdentifier { get; }

    /// <summary>The pod the agent's entry is about (POD=).</summary>
    public string? Pod { get; }

    public string? Namespace { get; }
    public string? Container { get; }

    /// <summary>The reason the agent logged (REASON=), e.g. an event's reason.</summary>
    public string? Reason { get; }

    /// <summary>kubelet's verbosity (V level) of the agent's entry.</summary>
    public int? Verbosity { get; }

    /// <summary>__CURSOR: where the entry is in the journal.</summary>
    public string? Cursor { get; }

    /// <summary>Every field of the entry, as journalctl printed it.</summary>
    public IReadOnlyDictionary<string, string> Fields { get; }

    public override string ToString() => Message;
}
