namespace KubeletPS.Core;

public enum KubeletLogLevel { Debug, Info, Warning, Error }

/// <summary>
/// Where the engine reports its decisions. The cmdlets turn lines into verbose/warning
/// records on the pipeline thread; the service host writes them to standard error for journald.
/// </summary>
public interface IKubeletLog
{
    void Write(KubeletLogLevel level, string message);

    /// <summary>
    /// A record with the objects it is about (the fields kubelet's structured logging carries); a log
    /// that keeps only text writes its message.
    /// </summary>
    void Write(KubeletLogRecord record) => Write(record.Level, record.Message);
}

/// <summary>
/// One structured log entry: the message and what it is about, as kubelet's structured logs name them
/// (pod, namespace, container, reason), and the kubelet verbosity it is logged at (klog's V level:
/// 0 for what is always logged, 4 for debugging detail).
/// </summary>
public sealed record KubeletLogRecord(KubeletLogLevel Level, string Message)
{
    public string? Pod { get; init; }
    public string? Namespace { get; init; }
    public string? Container { get; init; }
    public string? Reason { get; init; }

    /// <summary>kubelet's verbosity of this entry; by default 0, and 4 for debug entries.</summary>
    public int Verbosity { get; init; } = Level == KubeletLogLevel.Debug ? 4 : 0;
}

public static class KubeletLogExtensions
{
    public static void Debug(this IKubeletLog log, string message) => log.Write(KubeletLogLevel.Debug, message);
    public static void Info(this IKubeletLog log, string message) => log.Write(KubeletLogLevel.Info, message);
    public static void Warning(this IKubeletLog log, string message) => log.Write(KubeletLogLevel.Warning, message);
    public static void Error(this IKubeletLog log, string message) => log.Write(KubeletLogLevel.Error, message);
}

/// <summary>A log that drops everything.</summary>
public sealed class NullKubeletLog : IKubeletLog
{
    public static readonly NullKubeletLog Instance = new();
    public void Write(KubeletLogLevel level, string message) { }
}
