using KubeletPS.Core.Stats;

namespace KubeletPS.Core.Pods.Eviction;

/// <summary>What one signal measured: the amount available, the capacity percentages refer to, and when.</summary>
public sealed record SignalObservation(long Available, long Capacity, DateTimeOffset Time);

/// <summary>
/// One round of measurements for the eviction manager (kubelet's makeSignalObservations): each signal's
/// observation and the pods' stats by UID (its statsFunc), from which pods are ranked and messages written.
/// </summary>
public sealed record EvictionObservations(IReadOnlyDictionary<string, SignalObservation> Signals, IReadOnlyDictionary<string, PodStats> Pods)
{
    public static EvictionObservations Empty { get; } = new(new Dictionary<string, SignalObservation>(), new Dictionary<string, PodStats>());

    /// <summary>
    /// kubelet's makeSignalObservations from a summary: memory.available (available and working set of
    /// the node), allocatableMemory.available (the "pods" system container), nodefs and imagefs bytes and
    /// inodes, pid.available (max pid minus running processes). A figure the summary lacks gives no observation.
    /// </summary>
    public static EvictionObservations FromSummary(Summary summary)
    {
        var signals = new Dictionary<string, SignalObservation>(StringComparer.Ordinal);
        var node = summary.Node;
        if (node.Memory is { AvailableBytes: { } available, WorkingSetBytes: { } workingSet } memory)
            signals[EvictionSignals.MemoryAvailable] = new((long)available, (long)(available + workingSet), memory.Time);
        var pods = node.SystemContainers?.FirstOrDefault(c => c.Name == CriStatsProvider.SystemContainerPods)?.Memory;
        if (pods is { AvailableBytes: { } podsAvailable, WorkingSetBytes: { } podsWorkingSet })
            signals[EvictionSignals.AllocatableMemoryAvailable] = new((long)podsAvailable, (long)(podsAvailable + podsWorkingSet), pods.Time);
        AddFs(signals, node.Fs, EvictionSignals.NodeFsAvailable, EvictionSignals.NodeFsInodesFree);
        AddFs(signals, node.Runtime?.ImageFs, EvictionSignals.ImageFsAvailable, EvictionSignals.ImageFsInodesFree);
        if (node.Rlimit is { MaxPid: { } maxPid, NumOfRunningProcesses: { } running } rlimit)
            signals[EvictionSignals.PidAvailable] = new(maxPid - running, maxPid, rlimit.Time);
        var byUid = new Dictionary<string, PodStats>(StringComparer.Ordinal);
        foreach (var pod in summary.Pods) byUid[pod.PodRef.Uid] = pod;
        return new EvictionObservations(signals, byUid);
    }

    private static void AddFs(Dictionary<string, SignalObservation> signals, FsStats? fs, string bytesSignal, string inodesSignal)
    {
        if (fs is null) return;
        if (fs is { AvailableBytes: { } available, CapacityBytes: { } capacity })
            signals[bytesSignal] = new((long)available, (long)capacity, fs.Time);
        if (fs is { InodesFree: { } free, Inodes: { } inodes })
            signals[inodesSignal] = new((long)free, (long)inodes, fs.Time);
    }
}

/// <summary>Where the eviction manager's measurements come from (kubelet: the summary provider); tests give fixed ones.</summary>
public interface IEvictionSignalSource
{
    /// <summary>Whether the images live on another file system than the kubelet root directory (kubelet's HasDedicatedImageFs).</summary>
    Task<bool> HasDedicatedImageFsAsync(CancellationToken cancellationToken);

    /// <summary>A new round of measurements of the node and its pods (served from a recent cache when <see cref="ServesCachedObservations"/>).</summary>
    Task<EvictionObservations> ObserveAsync(CancellationToken cancellationToken);

    /// <summary>Whether <see cref="ObserveAsync"/> may give figures up to one monitoring interval old.</summary>
    bool ServesCachedObservations => false;

    /// <summary>Measurements taken now, never cached ones: what the manager acts on (kubelet's summaryProvider.Get with updateStats).</summary>
    Task<EvictionObservations> ObserveFreshAsync(CancellationToken cancellationToken) => ObserveAsync(cancellationToken);
}

/// <summary>
/// The signals from the stats provider behind /stats/summary (the one source of usage figures). The
/// CPU rates are left to the agent's sampler, which moves them at the same 10 s interval. With a
/// <see cref="MaxAge"/>, a round reads the summary the sampler collected within it instead of collecting its own.
/// </summary>
public sealed class SummarySignalSource(CriStatsProvider stats, Runtime.IImageService images, string rootDirectory) : IEvictionSignalSource
{
    /// <summary>How old a summary a round may read; zero (the default) collects one every round.</summary>
    public TimeSpan MaxAge { get; init; }

    public bool ServesCachedObservations => MaxAge > TimeSpan.Zero;

    public async Task<bool> HasDedicatedImageFsAsync(CancellationToken cancellationToken)
    {
        var filesystems = await images.ImageFsInfoAsync(cancellationToken).ConfigureAwait(false);
        if (filesystems.Count == 0 || filesystems[0].Mountpoint.Length == 0) return false;
        var imageDevice = MountInfo.DeviceOf(filesystems[0].Mountpoint);
        var rootDevice = MountInfo.DeviceOf(rootDirectory);
        return imageDevice is not null && rootDevice is not null && imageDevice != rootDevice;
    }

    public async Task<EvictionObservations> ObserveAsync(CancellationToken cancellationToken) =>
        MaxAge > TimeSpan.Zero
            ? EvictionObservations.FromSummary(await stats.GetSummaryAsync(MaxAge, cancellationToken).ConfigureAwait(false))
            : await ObserveFreshAsync(cancellationToken).ConfigureAwait(false);

    public async Task<EvictionObservations> ObserveFreshAsync(CancellationToken cancellationToken) =>
        EvictionObservations.FromSummary(await stats.GetSummaryAsync(updateCpuUsage: false, cancellationToken).ConfigureAwait(false));
}

/// <summary>The device (major:minor) of the mount holding a path, from /proc/self/mountinfo (what cadvisor compares).</summary>
public static class MountInfo
{
    public static string? DeviceOf(string path, string mountInfo = "/proc/self/mountinfo")
    {
        var full = Path.GetFullPath(path);
        string? device = null;
        var best = -1;
        foreach (var line in File.ReadLines(mountInfo))
        {
            // id parent major:minor root mountpoint options ...
            var fields = line.Split(' ');
            if (fields.Length < 5) continue;
            var mountPoint = fields[4].Replace("\\040", " ", StringComparison.Ordinal);
            var under = mountPoint == "/" || full == mountPoint || full.StartsWith(mountPoint + "/", StringComparison.Ordinal);
            if (under && mountPoint.Length >= best)
            {
                best = mountPoint.Length;
                device = fields[2];
            }
        }
        return device;
    }
}
