using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Systemd;

/// <summary>
/// The agent's log when systemd runs it with its output connected to journald: until the kubelet
/// configuration is read, records go to the foreground log (the service's standard output, which
/// journald keeps as plain lines); from <see cref="UseJournal"/> on, they go to the journal as
/// structured entries (<see cref="JournalKubeletLog"/>) with logging.format and logging.verbosity
/// in effect, and the foreground log only takes what journald refuses.
/// </summary>
public sealed class ServiceJournalLog : IKubeletLog, IDisposable
{
    private readonly IKubeletLog _foreground;
    private readonly string _socketPath;
    private JournalWriter? _writer;
    private volatile IKubeletLog _target;

    private ServiceJournalLog(IKubeletLog foreground, string socketPath)
    {
        _foreground = foreground;
        _socketPath = socketPath;
        _target = foreground;
    }

    /// <summary>A journal log when systemd connected this process to journald (JOURNAL_STREAM); null in the foreground.</summary>
    public static ServiceJournalLog? ForService(IKubeletLog foreground, Func<string, string?> environment, string socketPath = JournalWriter.DefaultSocketPath) =>
        JournalWriter.ConnectedToJournal(environment, socketPath) ? new ServiceJournalLog(foreground, socketPath) : null;

    /// <summary>Whether records now go to the journal.</summary>
    public bool Journaling => _target is JournalKubeletLog;

    /// <summary>Switches to structured journal entries with the configuration's logging.format and logging.verbosity.</summary>
    /// <exception cref="KubeletException">logging.format is neither text nor json.</exception>
    public void UseJournal(LoggingConfiguration logging, string identifier = "kubeletps")
    {
        _writer ??= new JournalWriter(_socketPath);
        var verbosity = (int)Math.Clamp(logging.Verbosity, 0, int.MaxValue);
        _target = new JournalKubeletLog(_writer, logging.Format.Length == 0 ? "text" : logging.Format, verbosity, identifier, _foreground);
    }

    public void Write(KubeletLogLevel level, string message) => _target.Write(new KubeletLogRecord(level, message));

    public void Write(KubeletLogRecord record) => _target.Write(record);

    public void Dispose() => _writer?.Dispose();
}
