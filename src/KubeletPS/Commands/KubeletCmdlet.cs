using System.Collections.Concurrent;
using System.Management.Automation;
using KubeletPS.Core;

namespace KubeletPS.Commands;

/// <summary>
/// Base of every KubeletPS cmdlet. It owns the cancellation of long work (Ctrl+C calls
/// StopProcessing, which cancels <see cref="CancellationToken"/>), runs engine async APIs
/// while pumping their Write* calls onto the pipeline thread, and turns engine exceptions
/// into ErrorRecords with a stable ErrorId and a precise category.
/// </summary>
public abstract class KubeletCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private BlockingCollection<Action>? _pipelineQueue;

    protected CancellationToken CancellationToken => _stopping.Token;

    protected override void StopProcessing() => _stopping.Cancel();

    /// <summary>
    /// While the returned registration lives, SIGTERM (systemctl stop, kill) stops this cmdlet as
    /// Ctrl+C does — a clean stop — instead of ending the process at once. Dispose it when done.
    /// </summary>
    protected IDisposable? StopOnTerminationSignal()
    {
        if (OperatingSystem.IsWindows()) return null;
        return System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            try { _stopping.Cancel(); }
            catch (ObjectDisposedException) { }
        });
    }

    public void Dispose()
    {
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the thread pool while this (pipeline) thread executes
    /// the Write* calls it posts through <see cref="Post"/>; returns when the work ends.
    /// </summary>
    protected T RunOnPipeline<T>(Func<CancellationToken, Task<T>> work)
    {
        using var queue = new BlockingCollection<Action>();
        _pipelineQueue = queue;
        try
        {
            var task = Task.Run(async () =>
            {
                try { return await work(CancellationToken).ConfigureAwait(false); }
                finally { queue.CompleteAdding(); }
            });
            try
            {
                foreach (var action in queue.GetConsumingEnumerable())
                {
                    action();
                }
            }
            catch
            {
                // A Write* threw on this thread: the pipeline stopped (Select-Object -First) or failed.
                // PowerShell does not call StopProcessing then, so the work (a followed log's journalctl,
                // say) is cancelled here and awaited, not left running.
                _stopping.Cancel();
                try { task.Wait(); }
                catch (AggregateException) { }
                throw;
            }
            return task.GetAwaiter().GetResult();
        }
        finally
        {
            _pipelineQueue = null;
        }
    }

    protected void RunOnPipeline(Func<CancellationToken, Task> work) =>
        RunOnPipeline<bool>(async ct => { await work(ct).ConfigureAwait(false); return true; });

    /// <summary>ShouldProcess asked on the pipeline thread from engine work running elsewhere.</summary>
    protected Task<bool> AskAsync(string target, string action)
    {
        var answer = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(() =>
        {
            try { answer.SetResult(ShouldProcess(target, action)); }
            catch (Exception e) { answer.SetException(e); }
        });
        return answer.Task;
    }

    /// <summary>Queues an action for the pipeline thread; runs it at once when already there.</summary>
    protected void Post(Action action)
    {
        var queue = _pipelineQueue;
        if (queue is null) { action(); return; }
        try { queue.Add(action); }
        catch (InvalidOperationException) { /* the work has ended; late messages are dropped */ }
    }

    /// <summary>A step of long engine work (a CSR's, say) as verbose and as progress bar 1 of <paramref name="activity"/>.</summary>
    protected void PostStep(string activity, string message, string? currentOperation = null) => Post(() =>
    {
        WriteVerbose(message);
        WriteProgress(new ProgressRecord(1, activity, message) { CurrentOperation = currentOperation });
    });

    /// <summary>Completes progress bar 1 of <paramref name="activity"/> ("Done"), however the work ended.</summary>
    protected void PostDone(string activity) =>
        Post(() => WriteProgress(new ProgressRecord(1, activity, "Done") { RecordType = ProgressRecordType.Completed }));

    /// <summary>A sink for engine log lines: decisions become verbose, problems warnings.</summary>
    protected IKubeletLog Log => _log ??= new CmdletLog(this);
    private IKubeletLog? _log;

    private sealed class CmdletLog(KubeletCmdlet cmdlet) : IKubeletLog
    {
        /// <summary>Records kubelet logs at V(3) and above (an event for each pod change) are debug output here.</summary>
        public void Write(KubeletLogRecord record) =>
            Write(record.Verbosity >= 3 && record.Level == KubeletLogLevel.Info ? KubeletLogLevel.Debug : record.Level, record.Message);

        public void Write(KubeletLogLevel level, string message)
        {
            switch (level)
            {
                case KubeletLogLevel.Warning:
                case KubeletLogLevel.Error:
                    cmdlet.Post(() => cmdlet.WriteWarning(message));
                    break;
                case KubeletLogLevel.Debug:
                    cmdlet.Post(() => cmdlet.WriteDebug(message));
                    break;
                default:
                    cmdlet.Post(() => cmdlet.WriteVerbose(message));
                    break;
            }
        }
    }

    /// <summary>A [datetime] parameter as a point in time: one without a kind ('2030-01-01') is local time, as everywhere in PowerShell.</summary>
    protected static DateTimeOffset? AsPointInTime(DateTime? value) =>
        value is { } t ? new DateTimeOffset(t.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(t, DateTimeKind.Local) : t) : null;

    /// <summary>Resolves -Path (wildcards) or -LiteralPath to existing file-system paths.</summary>
    protected IReadOnlyList<string> ResolveFilePaths(string path, bool literal, string errorIdPrefix)
    {
        ProviderInfo provider;
        var results = new List<string>();
        if (literal)
        {
            var resolved = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out provider, out _);
            EnsureFileSystem(provider, path, errorIdPrefix);
            if (!File.Exists(resolved))
            {
                ThrowTerminatingError(PathNotFoundError(resolved, errorIdPrefix));
            }
            results.Add(resolved);
            return results;
        }
        try
        {
            results.AddRange(SessionState.Path.GetResolvedProviderPathFromPSPath(path, out provider));
        }
        catch (ItemNotFoundException)
        {
            var unresolved = SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
            ThrowTerminatingError(PathNotFoundError(unresolved, errorIdPrefix));
            throw; // unreachable
        }
        EnsureFileSystem(provider, path, errorIdPrefix);
        return results;
    }

    /// <summary>An optional file path parameter resolved through the provider (no wildcards).</summary>
    protected string ResolveLiteralPath(string path) =>
        SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);

    private void EnsureFileSystem(ProviderInfo provider, string path, string errorIdPrefix)
    {
        if (provider.ImplementingType != typeof(Microsoft.PowerShell.Commands.FileSystemProvider))
        {
            ThrowTerminatingError(new ErrorRecord(
                new ArgumentException($"The path '{path}' is not a file-system path (provider {provider.Name})."),
                errorIdPrefix + ErrorIds.PathNotFileSystem, ErrorCategory.InvalidArgument, path));
        }
    }

    protected static ErrorRecord PathNotFoundError(string path, string errorIdPrefix) => new(
        new FileNotFoundException($"Cannot find path '{path}' because it does not exist.", path),
        errorIdPrefix + ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, path);

    /// <summary>
    /// The ErrorRecord for an engine exception: the category follows the exception's kind,
    /// the ErrorId is the cmdlet's prefix plus the problem.
    /// </summary>
    protected static ErrorRecord EngineError(Exception exception, string errorId, object? target)
    {
        var category = exception switch
        {
            KubeletException k => k.Category switch
            {
                KubeletErrorKind.InvalidData => ErrorCategory.InvalidData,
                KubeletErrorKind.NotFound => ErrorCategory.ObjectNotFound,
                KubeletErrorKind.Security => ErrorCategory.SecurityError,
                KubeletErrorKind.Connection => ErrorCategory.ConnectionError,
                KubeletErrorKind.Authentication => ErrorCategory.AuthenticationError,
                KubeletErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
                KubeletErrorKind.Conflict => ErrorCategory.ResourceExists,
                KubeletErrorKind.NotReady => ErrorCategory.ResourceUnavailable,
                KubeletErrorKind.Timeout => ErrorCategory.OperationTimeout,
                KubeletErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
                _ => ErrorCategory.NotSpecified,
            },
            FileNotFoundException or DirectoryNotFoundException => ErrorCategory.ObjectNotFound,
            UnauthorizedAccessException => ErrorCategory.PermissionDenied,
            OperationCanceledException => ErrorCategory.OperationStopped,
            TimeoutException => ErrorCategory.OperationTimeout,
            _ => ErrorCategory.NotSpecified,
        };
        return new ErrorRecord(exception, errorId, category, target);
    }
}
