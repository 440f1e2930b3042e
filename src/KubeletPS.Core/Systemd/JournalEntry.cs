using System.Globalization;
using System.Text;
using System.Text.Json;

namespace KubeletPS.Core.Systemd;

/// <summary>
/// One journal entry from `journalctl -o json`: the trusted fields journald adds (_PID, _HOSTNAME,
/// _SYSTEMD_UNIT), the priority, the message, and the fields the KubeletPS agent logs (POD, NAMESPACE,
/// CONTAINER, REASON, VERBOSITY). Every field is also kept in <see cref="Fields"/>.
/// </summary>
public sealed record JournalEntry
{
    /// <summary>syslog's priority names, by number (PRIORITY=0…7).</summary>
    public static readonly IReadOnlyList<string> PriorityNames = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

    /// <summary>__REALTIME_TIMESTAMP: when journald received the entry.</summary>
    public DateTimeOffset Time { get; init; }
    /// <summary>The unit the entry is about: UNIT= (systemd's own messages about a unit), else _SYSTEMD_UNIT.</summary>
    public string? Unit { get; init; }
    /// <summary>PRIORITY 0 (emerg) … 7 (debug); 6 (info) when the entry has none.</summary>
    public int Priority { get; init; } = 6;
    public string PriorityName => Priority is >= 0 and < 8 ? PriorityNames[Priority] : Priority.ToString(CultureInfo.InvariantCulture);
    public int? Pid { get; init; }
    public string Message { get; init; } = "";
    public string? Hostname { get; init; }
    public string? SyslogIdentifier { get; init; }
    public string? Pod { get; init; }
    public string? Namespace { get; init; }
    public string? Container { get; init; }
    public string? Reason { get; init; }
    /// <summary>kubelet's verbosity of the entry (the V level it was logged at), when the agent logged it.</summary>
    public int? Verbosity { get; init; }
    /// <summary>__CURSOR: where the entry is in the journal.</summary>
    public string? Cursor { get; init; }
    public IReadOnlyDictionary<string, string> Fields { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Parses one line of `journalctl -o json`. A field's value is a string, an array of bytes where
    /// it is not valid UTF-8 (decoded as UTF-8 with U+FFFD for the invalid bytes), an array of those
    /// when the entry has the field more than once (the first is kept), or null when it is larger than
    /// journalctl prints without --all.
    /// </summary>
    /// <exception cref="KubeletException">The line is not a JSON object.</exception>
    public static JournalEntry Parse(string line)
    {
        Dictionary<string, string> fields = new(StringComparer.Ordinal);
        try
        {
            using var document = JsonDocument.Parse(line);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new KubeletException("a journalctl -o json line is not a JSON object.", KubeletErrorKind.InvalidData, "journalctl");
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (Value(property.Value) is { } value) fields[property.Name] = value;
            }
        }
        catch (JsonException e)
        {
            throw new KubeletException($"journalctl printed a line that is not JSON: {e.Message}", KubeletErrorKind.InvalidData, "journalctl", e);
        }

        string? Get(string name) => fields.TryGetValue(name, out var value) ? value : null;
        int? Number(string name) => int.TryParse(Get(name), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : null;
        var micros = long.TryParse(Get("__REALTIME_TIMESTAMP"), NumberStyles.None, CultureInfo.InvariantCulture, out var us) ? us : 0;
        return new JournalEntry
        {
            Time = DateTimeOffset.UnixEpoch.AddTicks(micros * 10),
            Unit = Get("UNIT") ?? Get("_SYSTEMD_UNIT"),
            Priority = Number("PRIORITY") ?? 6,
            Pid = Number("_PID"),
            Message = Get("MESSAGE") ?? "",
            Hostname = Get("_HOSTNAME"),
            SyslogIdentifier = Get("SYSLOG_IDENTIFIER"),
            Pod = Get("POD"),
            Namespace = Get("NAMESPACE"),
            Container = Get("CONTAINER"),
            Reason = Get("REASON"),
            Verbosity = Number("VERBOSITY"),
            Cursor = Get("__CURSOR"),
            Fields = fields,
        };
    }

    private static string? Value(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.Array when value.GetArrayLength() == 0 => "",
        JsonValueKind.Array when value[0].ValueKind == JsonValueKind.Number => Bytes(value),
        JsonValueKind.Array => Value(value[0]),
        _ => null,
    };

    private static string Bytes(JsonElement array)
    {
        var bytes = new byte[array.GetArrayLength()];
        var i = 0;
        foreach (var b in array.EnumerateArray()) bytes[i++] = b.TryGetByte(out var v) ? v : (byte)'?';
        return Encoding.UTF8.GetString(bytes);
    }
}
