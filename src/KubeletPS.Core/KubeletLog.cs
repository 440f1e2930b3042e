namespace KubeletPS.Core;

public enum KubeletLogLevel { Debug, Info, Warning, Error }

/// <summary>
/// Where the engine reports its decisions. The cmdlets turn lines into verbose/warning
/// records on the pipeline thread; the service host writes them to standard error for journald.
/// </summary>
public interface IKubeletLog
{
    void Write(KubeletLogLevel level, string message);
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
