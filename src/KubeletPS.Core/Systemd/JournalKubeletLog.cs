using System.Globalization;
using System.Text;
using System.Text.Json;

namespace KubeletPS.Core.Systemd;

/// <summary>
/// The agent's log when systemd runs it: each record becomes one journal entry with MESSAGE,
/// PRIORITY, SYSLOG_IDENTIFIER, VERBOSITY and, where the record is about them, POD, NAMESPACE,
/// CONTAINER and REASON, so `journalctl -u kubeletps POD=web` and Get-KubeletLog select by them.
/// logging.format "json" makes MESSAGE kubelet's JSON line ({"ts":…,"msg":…,"v":…,"pod":{…}});
/// "text" makes it the message followed by klog's key="value" pairs. Records above
/// logging.verbosity are dropped, as klog drops V(n) lines.
/// </summary>
public sealed class JournalKubeletLog : IKubeletLog
{
    private readonly JournalWriter _writer;
    private readonly IKubeletLog _fallback;
    private readonly TimeProvider _time;

    /// <param name="writer">Where entries go.</param>
    /// <param name="format">logging.format: text or json.</param>
    /// <param name="verbosity">logging.verbosity: records logged at a higher V level are dropped.</param>
    /// <param name="identifier">SYSLOG_IDENTIFIER of every entry.</param>
    /// <param name="fallback">Receives the records journald could not take (the service's standard error).</param>
    /// <param name="time">The clock for json's ts.</param>
    /// <exception cref="KubeletException">The format is neither text nor json.</exception>
    public JournalKubeletLog(JournalWriter writer, string format, int verbosity, string identifier, IKubeletLog fallback, TimeProvider? time = null)
    {
        if (format is not ("text" or "json"))
            throw new KubeletException($"logging.format \"{format}\" is not supported: use text or json.", KubeletErrorKind.InvalidArgument, "logging.format");
        _writer = writer;
        Format = format;
        Verbosity = verbosity;
        Identifier = identifier;
        _fallback = fallback;
        _time = time ?? TimeProvider.System;
    }

    public string Format { get; }
    public int Verbosity { get; }
    public string Identifier { get; }

    public void Write(KubeletLogLevel level, string message) => Write(new KubeletLogRecord(level, message));

    public void Write(KubeletLogRecord record)
    {
        if (record.Verbosity > Verbosity && record.Level is KubeletLogLevel.Info or KubeletLogLevel.Debug) return;
        try
        {
            _writer.Write(Fields(record));
        }
        catch (KubeletException)
        {
            _fallback.Write(record);
        }
    }

    /// <summary>The journal fields of a record.</summary>
    public IEnumerable<KeyValuePair<string, string>> Fields(KubeletLogRecord record)
    {
        yield return new("MESSAGE", Format == "json" ? JsonLine(record, _time.GetUtcNow()) : TextLine(record));
        yield return new("PRIORITY", Priority(record.Level).ToString(CultureInfo.InvariantCulture));
        yield return new("SYSLOG_IDENTIFIER", Identifier);
        yield return new("VERBOSITY", record.Verbosity.ToString(CultureInfo.InvariantCulture));
        if (record.Pod is { } pod) yield return new("POD", pod);
        if (record.Namespace is { } ns) yield return new("NAMESPACE", ns);
        if (record.Container is { } container) yield return new("CONTAINER", container);
        if (record.Reason is { } reason) yield return new("REASON", reason);
    }

    /// <summary>syslog priority of a level: err 3, warning 4, info 6, debug 7.</summary>
    public static int Priority(KubeletLogLevel level) => level switch
    {
        KubeletLogLevel.Error => 3,
        KubeletLogLevel.Warning => 4,
        KubeletLogLevel.Debug => 7,
        _ => 6,
    };

    /// <summary>The message and klog's structured key="value" pairs (pod="namespace/name", as klog.KObj prints).</summary>
    public static string TextLine(KubeletLogRecord record)
    {
        var text = new StringBuilder(record.Message);
        if (record.Pod is { } pod) Pair(text, "pod", record.Namespace is { } ns ? ns + "/" + pod : pod);
        if (record.Container is { } container) Pair(text, "container", container);
        if (record.Reason is { } reason) Pair(text, "reason", reason);
        return text.ToString();
    }

    /// <summary>kubelet's JSON log line (logging.format json): ts in seconds, msg, v, and the objects.</summary>
    public static string JsonLine(KubeletLogRecord record, DateTimeOffset now)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("ts", now.ToUnixTimeMilliseconds() / 1000.0);
            json.WriteString("msg", record.Message);
            json.WriteNumber("v", record.Verbosity);
            if (record.Pod is { } pod)
            {
                json.WriteStartObject("pod");
                json.WriteString("name", pod);
                if (record.Namespace is { } ns) json.WriteString("namespace", ns);
                json.WriteEndObject();
            }
            if (record.Container is { } container) json.WriteString("container", container);
            if (record.Reason is { } reason) json.WriteString("reason", reason);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Pair(StringBuilder text, string key, string value) =>
        text.Append(' ').Append(key).Append("=\"").Append(value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)).Append('"');
}
