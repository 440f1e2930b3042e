using System.Collections.Concurrent;
using k8s.Models;
using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Pleg;
using KubeletPS.Core.Pods.Probes;
using KubeletPS.Core.Pods.Status;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.Workers;

/// <summary>
/// Kubelet's pod workers: one worker per pod UID, so the syncs of one pod never overlap while
/// different pods sync in parallel. A worker syncs when the desired pod changes, when PLEG or a
/// prober reports a change for its pod, when a back-off it waits for ends, and at least every
/// syncFrequency. A pod that is no longer desired (or an orphan found in the runtime) is killed
/// with its grace period, removed, and its worker ends.
/// </summary>
public sealed partial class PodWorkers : IAsyncDisposable
{
    private readonly KubeGenericRuntimeManager _manager;
    private readonly PodStatusGenerator _statusGenerator;
    private readonly IPodStatusSink _sink;
    private readonly ProbeManager _probes;
    private readonly IKubeletLog _log;
    private readonly TimeSpan _resync;
    private readonly TimeProvider _time;
    private readonly string _podLogsRoot;
    private readonly ConcurrentDictionary<string, PodWorker> _workers = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    public PodWorkers(KubeGenericRuntimeManager manager, PodStatusGenerator statusGenerator, IPodStatusSink sink, ProbeManager probes,
        IKubeletLog log, TimeSpan syncFrequency, string podLogsRoot, TimeProvider? time = null)
    {
        _manager = manager;
        _statusGenerator = statusGenerator;
        _sink = sink;
        _probes = probes;
        _log = log;
        _resync = syncFrequency;
        _podLogsRoot = podLogsRoot;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// False when the runtime cannot hold anything of the pod with this UID (the last relist had
    /// none of it): a new worker's first sync then starts from an empty runtime state instead of
    /// listing the runtime. Default: always read.
    /// </summary>
    public Func<string, bool> MayExistInRuntime { get; init; } = _ => true;

    /// <summary>Where pod syncs and pod starts are observed (kubelet_pod_worker_duration_seconds, kubelet_pod_start_duration_seconds); none when null.</summary>
    public Metrics.KubeletMetricSet? Metrics { get; init; }

    /// <summary>Raised (on a worker's thread) after a pod's status changed.</summary>
    public event Action<V1Pod>? StatusChanged;

    /// <summary>The pods with a worker, with their latest status.</summary>
    public IReadOnlyList<V1Pod> Pods => _workers.Values.Select(w => w.Snapshot).OfType<V1Pod>().ToList();

    /// <summary>
    /// The pods whose latest status is Succeeded or Failed, without the copies <see cref="Pods"/> makes: what
    /// admission, the QoS cgroups and the eviction manager ask once per pod, so a burst of pods costs no copy of
    /// every other pod for each one.
    /// </summary>
    public IReadOnlySet<string> FinishedPodUids =>
        _workers.Where(w => w.Value.Phase is "Succeeded" or "Failed").Select(w => w.Key).ToHashSet(StringComparer.Ordinal);

    /// <summary>The phase of the pod's latest status; null when it has no worker or no status yet.</summary>
    public string? Phase(string uid) => _workers.TryGetValue(uid, out var worker) ? worker.Phase : null;

    public bool IsKnown(string uid) => _workers.ContainsKey(uid);

    /// <summary>
    /// Kubelet's ShouldPodRuntimeBeRemoved for a pod with a worker: it reached a terminal phase and nothing of it
    /// runs any more (containers stopped, sandbox not ready). Null when the pod has no worker.
    /// </summary>
    public bool? IsTerminated(string uid) => _workers.TryGetValue(uid, out var worker) ? worker.IsTerminated : null;

    /// <summary>
    /// Kubelet's ShouldPodContentBeRemoved for a pod with a worker: evicted and terminated, so its dead containers,
    /// sandbox and directory may go while its source (the API server keeps evicted pods Failed) still lists it.
    /// A deleted pod leaves its sources and its worker removes all of it. Null when the pod has no worker.
    /// </summary>
    public bool? ShouldPodContentBeRemoved(string uid) => _workers.TryGetValue(uid, out var worker) ? worker.IsEvicted && worker.IsTerminated : null;

    public int Count => _workers.Count;

    /// <summary>The pod is desired (new or changed).</summary>
    public void UpdatePod(V1Pod pod)
    {
        var uid = pod.Metadata.Uid;
        if (!_workers.TryGetValue(uid, out var worker))
        {
            // A new worker syncs the pod as it starts; waking it as well would make it sync twice.
            var created = new PodWorker(this, uid, pod);
            if (_workers.TryAdd(uid, created))
            {
                Start(created);
                return;
            }
            worker = _workers[uid];
        }
        worker.Update(pod);
    }

    /// <summary>The pod is no longer desired: kill and remove it.</summary>
    public void KillPod(string uid)
    {
        if (_workers.TryGetValue(uid, out var worker)) worker.Terminate();
    }

    /// <summary>
    /// Evicts a running pod (the eviction manager's killPodFunc): its containers are killed with
    /// the shortest grace period and not restarted, and the pod ends Failed with
    /// <paramref name="reason"/> and <paramref name="message"/> and a DisruptionTarget condition.
    /// The pod stays known until its source lets it go. False when the pod has no worker, is
    /// terminating or was evicted already (so the caller records the event once).
    /// </summary>
    public bool EvictPod(string uid, string reason, string message) => EvictPod(uid, reason, message, TimeSpan.Zero);

    /// <summary>Evicts a running pod as <see cref="EvictPod(string, string, string)"/>, its containers killed with <paramref name="gracePeriod"/> (the eviction manager's gracePeriodOverride).</summary>
    public bool EvictPod(string uid, string reason, string message, TimeSpan gracePeriod) =>
        _workers.TryGetValue(uid, out var worker) && worker.Evict(new PodEviction(reason, message, TruncateToSeconds(_time.GetUtcNow().UtcDateTime), gracePeriod));

    private static DateTime TruncateToSeconds(DateTime t) => t.AddTicks(-(t.Ticks % TimeSpan.TicksPerSecond));

    /// <summary>The runtime has a pod with kubelet's labels that no source wants (kubelet's housekeeping).</summary>
    public void KillOrphan(string uid)
    {
        var worker = _workers.GetOrAdd(uid, id => Start(new PodWorker(this, id, null)));
        worker.Terminate();
    }

    /// <summary>Wakes the pod's worker (probe result).</summary>
    public void Signal(string uid)
    {
        if (_workers.TryGetValue(uid, out var worker)) worker.Wake();
    }

    /// <summary>
    /// Wakes the pod's worker for a PLEG event, unless its last runtime read already showed that
    /// state (its own sync made the change): kubelet's workers likewise wait for a pod status newer
    /// than their last sync rather than re-reading the runtime for every relist event.
    /// </summary>
    public void Signal(PodLifecycleEvent e)
    {
        if (_workers.TryGetValue(e.PodUid, out var worker)) worker.OnLifecycleEvent(e);
    }

    private long _plegEventsAlreadySeen;

    /// <summary>PLEG events that did not wake a worker because it had seen the state already.</summary>
    public long PlegEventsAlreadySeen => Interlocked.Read(ref _plegEventsAlreadySeen);

    private PodWorker Start(PodWorker worker)
    {
        worker.Completion = Task.Run(() => worker.RunAsync(_stopping.Token));
        return worker;
    }

    /// <summary>Stops the workers; with <paramref name="stopPods"/> every pod is killed and removed first.</summary>
    public async Task StopAsync(bool stopPods, CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_workers.Values.Select(w => w.Completion)).ConfigureAwait(false);
        if (!stopPods) return;
        await Task.WhenAll(_workers.Values.Select(async w =>
        {
            // A busy runtime can fail one stop or remove call (a sandbox's network teardown, a
            // timeout); try a few times before leaving the pod behind.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await w.KillAndRemoveAsync(cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (KubeletRuntimeException e) when (attempt < 3)
                {
                    _log.Warning($"pod {w.Name}: stopping it failed (attempt {attempt}), retrying: {e.Message}");
                    await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken).ConfigureAwait(false);
                }
                catch (KubeletRuntimeException e)
                {
                    _log.Warning($"pod {w.Name}: could not be stopped: {e.Message}");
                    return;
                }
            }
        })).ConfigureAwait(false);
        _workers.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(false, CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
