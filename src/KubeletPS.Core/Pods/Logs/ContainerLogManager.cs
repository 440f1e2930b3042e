using System.Collections.Concurrent;
using System.IO.Compression;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Logs;

namespace KubeletPS.Core.Pods.Logs;

/// <summary>
/// kubelet's container log manager (pkg/kubelet/logs/container_log_manager.go): every monitor
/// interval, the log of each running container (its path from CRI ContainerStatus, asked once per
/// container: the path a container logs to is fixed when it is created) that reached
/// MaxSize is rotated: excess and unused rotated files removed, the older ones gzipped, the
/// current one renamed to <c>{log}.{yyyyMMdd-HHmmss}</c> and the runtime asked to reopen the log
/// (ReopenContainerLog); when it cannot, the file is renamed back to be tried next round.
/// </summary>
public sealed class ContainerLogManager
{
    private readonly IRuntimeService _runtime;
    private readonly ContainerLogRotationPolicy _policy;
    private readonly IKubeletLog _log;
    private readonly TimeProvider _time;
    // Container id → its log path; kept while the container runs, so a round stats each log instead of asking CRI for each status.
    private readonly ConcurrentDictionary<string, string> _logPaths = new(StringComparer.Ordinal);

    public ContainerLogManager(IRuntimeService runtime, ContainerLogRotationPolicy policy, IKubeletLog log, TimeProvider time)
    {
        _runtime = runtime ?? throw new ArgumentNullException(nameof(runtime));
        _policy = (policy ?? throw new ArgumentNullException(nameof(policy))).Validated();
        _log = log ?? throw new ArgumentNullException(nameof(log));
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>Rotates every monitor interval until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _log.Info($"container log rotation: {_policy.MaxWorkers} worker(s) every {GoDuration.Format(_policy.MonitorInterval)}, containerLogMaxSize {_policy.MaxSize} bytes, containerLogMaxFiles {_policy.MaxFiles}.");
        using var timer = new PeriodicTimer(_policy.MonitorInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await RotateLogsAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (KubeletRuntimeException e)
                {
                    _log.Warning($"Failed to rotate container logs: failed to list containers: {e.Message}");
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One round (kubelet's rotateLogs): the running containers' logs, MaxWorkers at a time.</summary>
    public async Task RotateLogsAsync(CancellationToken cancellationToken = default)
    {
        var containers = await _runtime.ListContainersAsync(null, cancellationToken).ConfigureAwait(false);
        // Only running containers: one that ended writes nothing more, an empty current file would be of no use.
        var running = containers.Where(c => c.State == ContainerState.Running).Select(c => c.Id).ToList();
        // A container that no longer runs never runs again (a restart is a new container): its path is forgotten.
        var runningIds = running.ToHashSet(StringComparer.Ordinal);
        foreach (var gone in _logPaths.Keys.Where(id => !runningIds.Contains(id)).ToList()) _logPaths.TryRemove(gone, out _);
        await Parallel.ForEachAsync(running, new ParallelOptions { MaxDegreeOfParallelism = _policy.MaxWorkers, CancellationToken = cancellationToken },
            async (id, ct) => await ProcessContainerAsync(id, ct).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>The containers whose log path is known (asked from CRI once, dropped when they no longer run).</summary>
    internal int KnownLogPaths => _logPaths.Count;

    /// <summary>kubelet's processContainer: one container's log, rotated when it reached MaxSize; failures are logged.</summary>
    private async Task ProcessContainerAsync(string id, CancellationToken ct)
    {
        if (!_logPaths.TryGetValue(id, out var path))
        {
            try
            {
                path = (await _runtime.ContainerStatusAsync(id, ct).ConfigureAwait(false)).LogPath;
            }
            catch (KubeletRuntimeException e)
            {
                _log.Warning($"container log rotation: failed to get container status of {id}: {e.Message}");
                return;
            }
            _logPaths[id] = path;
        }
        if (string.IsNullOrEmpty(path)) return;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                // The runtime lost its file (removed by hand, or a reopen that failed): ask for a new one.
                await _runtime.ReopenContainerLogAsync(id, ct).ConfigureAwait(false);
                info.Refresh();
                if (!info.Exists) return;
            }
            if (info.LinkTarget is not null)
            {
                _log.Warning($"container log rotation: container {id}: the log {path} is a symbolic link; it is not rotated.");
                return;
            }
            if (info.Length < _policy.MaxSize) return;
            await RotateLogAsync(id, path, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or KubeletRuntimeException)
        {
            _log.Warning($"Failed to rotate log for container {id} ({path}): {e.Message}");
        }
    }

    /// <summary>kubelet's rotateLog: the plan for the rotated files carried out, then the current file rotated.</summary>
    internal async Task RotateLogAsync(string id, string log, CancellationToken ct)
    {
        var plan = ContainerLogRotationPlan.Decide(ContainerLogFiles.Rotated(log), _policy.MaxFiles);
        foreach (var file in plan.Remove) File.Delete(file);
        foreach (var file in plan.Compress) await CompressAsync(file, ct).ConfigureAwait(false);
        await RotateLatestAsync(id, log, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// kubelet's compressLog: <c>{log}.gz.tmp</c> written, renamed to <c>{log}.gz</c>, then the plain
    /// file removed. A rotated "file" that is a symlink is removed, never read: it would copy its
    /// target (/etc/shadow) into a log anyone with log access reads.
    /// </summary>
    private async Task CompressAsync(string log, CancellationToken ct)
    {
        FileStream? source;
        try
        {
            source = ContainerLogFiles.OpenNoFollow(log);
        }
        catch (UnsafeLogFileException e)
        {
            _log.Warning($"container log rotation: {e.Message}; removing it.");
            File.Delete(log);
            return;
        }
        if (source is null) return;
        var temp = log + ContainerLogFiles.CompressSuffix + ContainerLogFiles.TempSuffix;
        await using (source.ConfigureAwait(false))
        {
            File.Delete(temp);
            try
            {
                // CreateNew (O_EXCL) does not follow a symlink planted at the temporary name.
                var target = new FileStream(temp, FileMode.CreateNew, FileAccess.Write);
                await using (target.ConfigureAwait(false))
                {
                    if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(target.SafeFileHandle, File.GetUnixFileMode(source.SafeFileHandle));
                    var gzip = new GZipStream(target, CompressionLevel.Optimal);
                    await using (gzip.ConfigureAwait(false))
                        await source.CopyToAsync(gzip, ct).ConfigureAwait(false);
                }
                File.Move(temp, log + ContainerLogFiles.CompressSuffix, overwrite: true);
            }
            finally
            {
                File.Delete(temp);
            }
        }
        File.Delete(log);
    }

    /// <summary>
    /// kubelet's rotateLatestLog: renamed without compression (the runtime may still write to it until
    /// it reopens, and a follower finishes reading it), then ReopenContainerLog; when the runtime cannot
    /// reopen, the file is renamed back so that the next round tries again.
    /// </summary>
    private async Task RotateLatestAsync(string id, string log, CancellationToken ct)
    {
        var rotated = ContainerLogFiles.RotatedName(log, _time.GetLocalNow());
        // Not over an earlier rotation of the same second (kubelet's os.Rename would replace it).
        File.Move(log, rotated, overwrite: false);
        try
        {
            await _runtime.ReopenContainerLogAsync(id, ct).ConfigureAwait(false);
        }
        catch (KubeletRuntimeException e)
        {
            try
            {
                File.Move(rotated, log, overwrite: false);
            }
            catch (IOException renameError)
            {
                _log.Error($"Failed to rename rotated log {rotated} back to {log} (container {id}): {renameError.Message}");
            }
            throw new KubeletRuntimeException(e.Endpoint, e.Operation, e.Kind, $"failed to reopen container log \"{id}\": {e.Message}", e.RpcStatus, e);
        }
        _log.Debug($"container {id}: rotated {log} to {rotated}.");
    }
}
