using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.Gc;

/// <summary>
/// Kubelet's node-wide container garbage collector (kuberuntime_gc.go's GarbageCollect):
/// dead containers as <see cref="ContainerGcPlan.Containers"/> decides (with their log files),
/// then sandboxes as <see cref="ContainerGcPlan.Sandboxes"/> decides, then the log directories under
/// podLogsDir and the pod directories under {root}/pods of pods that are gone. Nothing of an unknown
/// pod is removed before every pod source has reported (<see cref="IPodStateProvider.AllSourcesReady"/>),
/// and never a running container or a ready sandbox.
/// </summary>
public sealed class ContainerGc : IContainerGarbageCollector
{
    /// <summary>Kubelet's ContainerGCPeriod.</summary>
    public static readonly TimeSpan DefaultPeriod = TimeSpan.FromMinutes(1);

    private readonly IRuntimeService _runtime;
    private readonly IPodStateProvider _pods;
    private readonly IKubeletLog _log;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _pass = new(1, 1);

    public ContainerGc(IRuntimeService runtime, IPodStateProvider pods, ContainerGcPolicy policy, IKubeletLog log, TimeProvider time)
    {
        _runtime = runtime ?? throw new ArgumentNullException(nameof(runtime));
        _pods = pods ?? throw new ArgumentNullException(nameof(pods));
        Policy = policy ?? throw new ArgumentNullException(nameof(policy));
        _log = log ?? throw new ArgumentNullException(nameof(log));
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    public ContainerGcPolicy Policy { get; }

    /// <summary>Which pods' containers, sandboxes and directories may go.</summary>
    public IPodStateProvider Pods => _pods;

    /// <summary>The node's podLogsDir (kubelet's /var/log/pods); null leaves log directories alone.</summary>
    public string? PodLogsDirectory { get; init; }

    /// <summary>Kubelet's root directory, whose pods/{uid} directories of gone pods are removed; null leaves them alone.</summary>
    public string? RootDirectory { get; init; }

    /// <summary>One pass with the policy (kubelet's periodic GarbageCollect).</summary>
    public Task<IReadOnlyList<GcRemoval>> GarbageCollectAsync(GcMode mode, CancellationToken cancellationToken) =>
        RunAsync(Policy, evictNonDeletedPods: false, mode, cancellationToken);

    /// <summary>Kubelet's DeleteAllUnusedContainers for the eviction manager: MinAge ignored, finished pods' containers too.</summary>
    public async Task DeleteAllUnusedContainersAsync(CancellationToken cancellationToken)
    {
        _log.Info("container GC: attempting to delete unused containers.");
        await RunAsync(Policy with { MinAge = TimeSpan.Zero }, evictNonDeletedPods: true, GcMode.Remove, cancellationToken).ConfigureAwait(false);
    }

    private async Task<IReadOnlyList<GcRemoval>> RunAsync(ContainerGcPolicy policy, bool evictNonDeletedPods, GcMode mode, CancellationToken ct)
    {
        await _pass.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var removals = new List<GcRemoval>();
            var containers = await _runtime.ListContainersAsync(null, ct).ConfigureAwait(false);
            var removed = new HashSet<string>(StringComparer.Ordinal);
            foreach (var candidate in ContainerGcPlan.Containers(containers, policy, _pods, evictNonDeletedPods, _time.GetUtcNow()))
            {
                var removal = await RemoveContainerAsync(candidate, mode, ct).ConfigureAwait(false);
                removals.Add(removal);
                if (removal.Error is null) removed.Add(candidate.Id);
            }

            var sandboxes = await _runtime.ListPodSandboxesAsync(null, ct).ConfigureAwait(false);
            foreach (var candidate in ContainerGcPlan.Sandboxes(sandboxes, containers, removed, _pods, evictNonDeletedPods))
                removals.Add(await RemoveSandboxAsync(candidate, mode, ct).ConfigureAwait(false));

            if (_pods.AllSourcesReady)
            {
                var live = sandboxes.Where(s => removals.All(r => r.Id != s.Id || r.Error is not null)).Select(s => s.Uid).ToHashSet(StringComparer.Ordinal);
                if (PodLogsDirectory is not null) removals.AddRange(EvictDirectories(PodLogsDirectory, GcObjectKind.PodLogDirectory, ContainerGcPlan.PodUidFromLogsDirectory, live, mode));
                if (RootDirectory is not null) removals.AddRange(EvictDirectories(Path.Combine(RootDirectory, "pods"), GcObjectKind.PodDirectory, name => name, live, mode));
            }
            return removals;
        }
        finally { _pass.Release(); }
    }

    private async Task<GcRemoval> RemoveContainerAsync(GcCandidate c, GcMode mode, CancellationToken ct)
    {
        if (mode == GcMode.DryRun) return new GcRemoval(GcObjectKind.Container, c.Id, c.Name, c.PodUid, c.Reason, 0, false);
        try
        {
            // A container in an unknown state may still have a process: kubelet kills it first.
            if (c.Unknown) await _runtime.StopContainerAsync(c.Id, TimeSpan.Zero, ct).ConfigureAwait(false);
            string? logPath = null;
            try { logPath = (await _runtime.ContainerStatusAsync(c.Id, ct).ConfigureAwait(false)).LogPath; }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
            _log.Info($"container GC: removing container {c.Id} ({c.Name} of pod {c.PodUid}): {c.Reason}.");
            await _runtime.RemoveContainerAsync(c.Id, ct).ConfigureAwait(false);
            RemoveLogFiles(logPath);
            return new GcRemoval(GcObjectKind.Container, c.Id, c.Name, c.PodUid, c.Reason, 0, true);
        }
        catch (KubeletRuntimeException e) when (e.Kind != RuntimeErrorKind.NotFound)
        {
            _log.Warning($"container GC: failed to remove container {c.Id}: {e.Message}");
            return new GcRemoval(GcObjectKind.Container, c.Id, c.Name, c.PodUid, c.Reason, 0, false, e.Message);
        }
    }

    private async Task<GcRemoval> RemoveSandboxAsync(GcCandidate s, GcMode mode, CancellationToken ct)
    {
        if (mode == GcMode.DryRun) return new GcRemoval(GcObjectKind.Sandbox, s.Id, s.Name, s.PodUid, s.Reason, 0, false);
        try
        {
            _log.Info($"container GC: removing sandbox {s.Id} ({s.Name}, pod {s.PodUid}): {s.Reason}.");
            // Kubelet's removeSandbox stops it first, which releases its network.
            await _runtime.StopPodSandboxAsync(s.Id, ct).ConfigureAwait(false);
            await _runtime.RemovePodSandboxAsync(s.Id, ct).ConfigureAwait(false);
            return new GcRemoval(GcObjectKind.Sandbox, s.Id, s.Name, s.PodUid, s.Reason, 0, true);
        }
        catch (KubeletRuntimeException e) when (e.Kind != RuntimeErrorKind.NotFound)
        {
            _log.Warning($"container GC: failed to remove sandbox {s.Id}: {e.Message}");
            return new GcRemoval(GcObjectKind.Sandbox, s.Id, s.Name, s.PodUid, s.Reason, 0, false, e.Message);
        }
    }

    // Kubelet's evictPodLogsDirectories and cleanupOrphanedPodDirs: a gone pod's directory, unless the runtime still has a sandbox of it.
    private List<GcRemoval> EvictDirectories(string parent, GcObjectKind kind, Func<string, string> uidOf, HashSet<string> podsInRuntime, GcMode mode)
    {
        var removals = new List<GcRemoval>();
        string[] directories;
        try { directories = Directory.Exists(parent) ? Directory.GetDirectories(parent) : []; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Warning($"container GC: cannot read {parent}: {e.Message}");
            return removals;
        }
        foreach (var directory in directories)
        {
            var uid = uidOf(Path.GetFileName(directory));
            if (uid.Length == 0 || podsInRuntime.Contains(uid) || !_pods.ShouldPodContentBeRemoved(uid)) continue;
            const string reason = "the pod is removed";
            if (mode == GcMode.DryRun)
            {
                removals.Add(new GcRemoval(kind, directory, uid, uid, reason, 0, false));
                continue;
            }
            _log.Info($"container GC: removing {directory}: {reason}.");
            try
            {
                // Anything still mounted under it is unmounted first; a mount that stays keeps the directory.
                HostMounts.RemoveDirectory(directory);
                removals.Add(new GcRemoval(kind, directory, uid, uid, reason, 0, true));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                removals.Add(new GcRemoval(kind, directory, uid, uid, reason, 0, false, e.Message));
            }
        }
        return removals;
    }

    // Kubelet's removeContainerLog: the container's log file and the files rotated from it.
    private void RemoveLogFiles(string? logPath)
    {
        if (string.IsNullOrEmpty(logPath)) return;
        try
        {
            var directory = Path.GetDirectoryName(logPath);
            if (directory is null || !Directory.Exists(directory)) return;
            var name = Path.GetFileName(logPath);
            foreach (var file in Directory.GetFiles(directory).Where(f => Path.GetFileName(f) == name || Path.GetFileName(f).StartsWith(name + ".", StringComparison.Ordinal)))
                File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Warning($"container GC: cannot remove the log of {logPath}: {e.Message}");
        }
    }
}
