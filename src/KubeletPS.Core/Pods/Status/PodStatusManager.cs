using k8s;
using k8s.Models;
using KubeletPS.Core.Api;
using KubeletPS.Core.Pods.Config;
using KubeletPS.Core.Pods.Manager;

namespace KubeletPS.Core.Pods.Status;

/// <summary>Timings of <see cref="PodStatusManager"/>; the resync is kubelet's syncPeriod for statuses (10 s).</summary>
public sealed record PodStatusManagerOptions
{
    public TimeSpan ResyncInterval { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan MinRetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Conflicts answered within one pass by reading the pod again and retrying at once.</summary>
    public int ConflictRetries { get; init; } = 5;
}

/// <summary>The outcome of one <see cref="PodStatusManager.SyncAsync"/> pass.</summary>
public sealed record PodStatusSyncResult(int Patched, int Unchanged, int Forgotten, int Waiting, int Failed, int Deleted = 0);

/// <summary>
/// Kubelet's status manager: the pod workers set each pod's status; the latest per pod UID is kept
/// and sent to pods/status only when it differs from what the API server last acknowledged. The
/// patch is a strategic merge patch of the whole status (conditions merge by type, container
/// statuses by name, so conditions set by others stay) with metadata.uid as a precondition.
/// 404 means the pod is gone: its status is forgotten. 409 re-reads the pod and retries while the
/// UID still matches. An unreachable server keeps the latest status and retries with back-off:
/// only the latest is ever sent, so an older status never overwrites a newer one. A static pod's
/// status goes to its mirror pod (found through <see cref="IMirrorPodLookup"/>), waiting until
/// the mirror pod exists. A pod being deleted (deletionTimestamp set) whose status is terminal with
/// no container running is then deleted for good (grace period 0, UID precondition), as kubelet's
/// status manager finishes a graceful deletion; so is one the workers removed while the API server
/// was deleting it (<see cref="RemovePod(string, V1Pod?)"/>). This is the only code that deletes a
/// pod for good, on its own loop, and <see cref="FlushAsync"/> at shutdown waits for it.
/// </summary>
public sealed partial class PodStatusManager : IPodStatusSink
{
    private readonly IKubernetes _client;
    private readonly ApiIdentity _identity;
    private readonly IKubeletLog _log;
    private readonly IMirrorPodLookup? _mirrorPods;
    private readonly PodStatusManagerOptions _options;
    private readonly object _lock = new();
    private readonly Dictionary<string, Entry> _entries = [];
    private readonly HashSet<string> _gone = [];
    private readonly Dictionary<string, Deletion> _deletions = [];
    private readonly SemaphoreSlim _changed = new(0, 1);

    public PodStatusManager(IKubernetes client, ApiIdentity identity, IKubeletLog? log = null, IMirrorPodLookup? mirrorPods = null, PodStatusManagerOptions? options = null)
    {
        _client = client;
        _identity = identity;
        _log = log ?? NullKubeletLog.Instance;
        _mirrorPods = mirrorPods;
        _options = options ?? new PodStatusManagerOptions();
    }

    private sealed class Entry(V1Pod pod, string? acknowledged)
    {
        public V1Pod Pod { get; set; } = pod;
        public V1PodStatus? Status { get; set; }
        public string? Json { get; set; }
        public long Version { get; set; }
        public long AcknowledgedVersion { get; set; }
        public string? AcknowledgedJson { get; set; } = acknowledged;
        public bool CanBeDeleted { get; set; }
        public bool Pending => Version > AcknowledgedVersion || CanBeDeleted;
    }

    /// <summary>A pod to delete for good whose status is no longer kept: its containers are gone.</summary>
    private sealed class Deletion(V1Pod pod)
    {
        public V1Pod Pod { get; } = pod;
        public int Attempts { get; set; }
    }

    /// <summary>Attempts at deleting a removed pod before it is left to the API server.</summary>
    private const int MaxDeleteAttempts = 10;

    /// <summary>
    /// The pod workers' seam: the pod carries its new status, so nothing is known of what the API
    /// server holds and the first status is always sent.
    /// </summary>
    public void SetPodStatus(V1Pod pod) => SetPodStatus(pod, pod.Status, apiStatusKnown: false);

    /// <summary>
    /// Records <paramref name="status"/> for <paramref name="pod"/> as the API server has it (its
    /// current status counts as acknowledged: an identical status sends nothing).
    /// </summary>
    public void SetPodStatus(V1Pod pod, V1PodStatus status) => SetPodStatus(pod, status, apiStatusKnown: true);

    private void SetPodStatus(V1Pod pod, V1PodStatus status, bool apiStatusKnown)
    {
        var uid = pod.Metadata?.Uid ?? throw new ArgumentException("The pod has no UID.", nameof(pod));
        var json = KubernetesJson.Serialize(status);
        lock (_lock)
        {
            if (_gone.Contains(uid)) return;
            if (!_entries.TryGetValue(uid, out var entry))
            {
                // What the API server holds already counts as acknowledged: an identical status sends nothing.
                entry = new Entry(pod, !apiStatusKnown || pod.Status is null || MirrorPods.IsStaticPod(pod) ? null : KubernetesJson.Serialize(pod.Status));
                _entries[uid] = entry;
            }
            entry.Pod = pod;
            var canBeDeleted = CanBeDeleted(pod, status);
            if (entry.Json == json && entry.CanBeDeleted == canBeDeleted) return;
            entry.CanBeDeleted = canBeDeleted;
            if (entry.Json != json)
            {
                entry.Status = status;
                entry.Json = json;
                entry.Version++;
            }
        }
        Signal();
    }

    private void Signal()
    {
        if (_changed.CurrentCount == 0)
        {
            try { _changed.Release(); }
            catch (SemaphoreFullException) { }
        }
    }

    /// <summary>
    /// Kubelet's canBeDeleted: the pod is being deleted, the kubelet has finished it (terminal phase) and no container
    /// runs. Static and mirror pods are never deleted here (their mirror pods are the MirrorPodManager's).
    /// </summary>
    private static bool CanBeDeleted(V1Pod pod, V1PodStatus status) =>
        pod.Metadata.DeletionTimestamp is not null
        && !MirrorPods.IsStaticPod(pod) && !MirrorPods.IsMirrorPod(pod)
        && status.Phase is "Failed" or "Succeeded"
        && !(status.ContainerStatuses ?? []).Concat(status.InitContainerStatuses ?? []).Any(c => c.State?.Running is not null);

    /// <summary>The latest status set for the pod, sent or not.</summary>
    public V1PodStatus? GetPodStatus(string uid)
    {
        lock (_lock) return _entries.TryGetValue(uid, out var e) ? e.Status : null;
    }

    /// <summary>Forgets a pod the kubelet no longer has (kubelet's RemoveOrphanedStatuses).</summary>
    public void RemovePod(string uid)
    {
        lock (_lock)
        {
            _entries.Remove(uid);
            _gone.Remove(uid);
        }
    }

    /// <summary>
    /// Forgets a pod the workers have removed, and when <paramref name="apiPod"/> (the API server's copy)
    /// is being deleted, deletes it for good at the next pass: its containers are gone.
    /// </summary>
    public void RemovePod(string uid, V1Pod? apiPod)
    {
        RemovePod(uid);
        if (apiPod is not { Metadata.DeletionTimestamp: not null }) return;
        lock (_lock) _deletions[uid] = new Deletion(apiPod);
        Signal();
    }

    /// <summary>Pods whose latest status has not been acknowledged by the API server, and pods still to delete.</summary>
    public int PendingCount
    {
        get { lock (_lock) return _entries.Values.Count(e => e.Pending) + _deletions.Count; }
    }

    /// <summary>Sends statuses as they change, and every resync interval those still pending, until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var backoff = new Backoff(_options.MinRetryDelay, _options.MaxRetryDelay);
        while (!cancellationToken.IsCancellationRequested)
        {
            PodStatusSyncResult result;
            try
            {
                result = await SyncAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            try
            {
                if (result.Failed > 0)
                {
                    // A new status does not cut a back-off short: the server is failing.
                    await Task.Delay(backoff.Next(), cancellationToken).ConfigureAwait(false);
                    continue;
                }
                backoff.Reset();
                await _changed.WaitAsync(_options.ResyncInterval, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Syncs until nothing is pending that can be sent now (tests; shutdown).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await SyncAsync(cancellationToken).ConfigureAwait(false);
            if (result.Patched == 0 && result.Failed == 0) return;
            if (result.Failed > 0) await Task.Delay(_options.MinRetryDelay, cancellationToken).ConfigureAwait(false);
        }
    }
}
