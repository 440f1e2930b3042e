using System.Collections.Concurrent;
using System.Threading.Channels;
using k8s;
using k8s.Models;
using KubeletPS.Core.Api;
using KubeletPS.Core.Configuration;
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
public sealed class PodWorkers : IAsyncDisposable
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

    private sealed class PodWorker(PodWorkers owner, string uid, V1Pod? pod)
    {
        private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        private readonly object _lock = new();
        private V1Pod? _desired = pod;
        private V1Pod? _pending;
        // A worker without a desired pod (an orphan found in the runtime) can only kill it; it is
        // terminating from its first run, before Terminate() is even called.
        private bool _terminating = pod is null;
        private bool _terminal;
        private bool _synced;
        private V1PodStatus? _status;
        private volatile RuntimePodStatus? _observed;
        private IReadOnlyDictionary<string, ContainerWaiting> _waiting = new Dictionary<string, ContainerWaiting>();
        private PodEviction? _eviction;
        // When this worker first saw the pod (kubelet: the pod config's first-seen time) and whether its start was observed.
        private long _firstSeen = owner._time.GetTimestamp();
        private bool _startObserved;
        // kubelet's SyncPodType for the next sync: create for a worker's first, update after the pod changed, else sync.
        private string _nextSync = "create";

        public Task Completion { get; set; } = Task.CompletedTask;

        public string Name => _desired?.Name() ?? uid;

        // PLEG events that arrive while a sync runs are held until it ends: the sync's own read may
        // already show them (the relist caught the sandbox this sync just created).
        private readonly List<PodLifecycleEvent> _heldEvents = [];
        private bool _syncing;

        public void OnLifecycleEvent(PodLifecycleEvent e)
        {
            lock (_heldEvents)
            {
                if (_syncing)
                {
                    _heldEvents.Add(e);
                    return;
                }
            }
            WakeUnlessSeen([e]);
        }

        private void WakeUnlessSeen(IReadOnlyList<PodLifecycleEvent> events)
        {
            if (events.Count == 0) return;
            // _observed: the runtime as this worker's last sync left it (null before the first, and while terminating).
            var observed = _observed;
            var seen = observed is null ? 0 : events.Count(e => e.IsSeenIn(observed));
            Interlocked.Add(ref owner._plegEventsAlreadySeen, seen);
            if (seen < events.Count) Wake();
        }

        /// <summary>The desired pod with its latest status (a copy).</summary>
        public V1Pod? Snapshot
        {
            get
            {
                lock (_lock)
                {
                    if (_desired is null || _status is null) return null;
                    var copy = KubeObjects.DeepCopy(_desired);
                    copy.Status = _status;
                    return copy;
                }
            }
        }

        public void Update(V1Pod pod)
        {
            lock (_lock)
            {
                if (_terminating) _pending = pod;
                else
                {
                    _desired = pod;
                    if (_nextSync == "sync") _nextSync = "update";
                }
            }
            Wake();
        }

        public void Terminate()
        {
            lock (_lock)
            {
                _terminating = true;
                _pending = null;
            }
            _observed = null; // every event wakes a terminating worker
            Wake();
        }

        public void Wake() => _wake.Writer.TryWrite(true);

        /// <summary>Terminal and, as its last sync read the runtime, nothing of it running.</summary>
        public bool IsTerminated
        {
            get { lock (_lock) return _terminal && !_terminating && _observed is { AnyRunning: false }; }
        }

        public bool IsEvicted
        {
            get { lock (_lock) return _eviction is not null; }
        }

        public bool Evict(PodEviction eviction)
        {
            lock (_lock)
            {
                if (_terminating || _terminal || _eviction is not null) return false;
                _eviction = eviction;
            }
            Wake();
            return true;
        }

        public async Task RunAsync(CancellationToken ct)
        {
            // 1 s doubling to 30 s, without jitter: one node's pods need not be spread apart.
            var errorBackOff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), jitter: 0);
            while (!ct.IsCancellationRequested)
            {
                TimeSpan wait = owner._resync;
                try
                {
                    bool terminating;
                    lock (_lock) terminating = _terminating;
                    if (terminating)
                    {
                        var killStarted = owner._time.GetTimestamp();
                        await KillAndRemoveAsync(ct).ConfigureAwait(false);
                        owner.Metrics?.PodWorkerDuration.Observe(owner._time.GetElapsedTime(killStarted), "kill");
                        lock (_lock)
                        {
                            if (_pending is null)
                            {
                                owner._workers.TryRemove(new KeyValuePair<string, PodWorker>(uid, this));
                                return;
                            }
                            // The same pod is wanted again: start over.
                            _desired = _pending;
                            _pending = null;
                            _terminating = false;
                            _terminal = false;
                            _eviction = null;
                            _status = null;
                            _firstSeen = owner._time.GetTimestamp();
                            _startObserved = false;
                            _nextSync = "create";
                        }
                        continue;
                    }
                    wait = await SyncAsync(ct).ConfigureAwait(false);
                    errorBackOff.Reset();
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    return;
                }
                catch (KubeletRuntimeException e)
                {
                    wait = errorBackOff.Next();
                    owner._log.Warning($"pod {Name}: sync failed, retrying in {GoDuration.Format(wait)}: {e.Message}");
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException or FormatException)
                {
                    wait = errorBackOff.Next();
                    owner._log.Error($"pod {Name}: sync failed, retrying in {GoDuration.Format(wait)}: {e.GetType().Name}: {e.Message}");
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    // A bug must not end this pod's worker silently (kubelet's workers recover too): say so, with where, and retry.
                    wait = errorBackOff.Next();
                    owner._log.Error($"pod {Name}: sync failed unexpectedly, retrying in {GoDuration.Format(wait)}: {e}");
                }

                using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timer.CancelAfter(wait < TimeSpan.Zero ? TimeSpan.Zero : wait);
                try { await _wake.Reader.ReadAsync(timer.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
                catch (OperationCanceledException) { return; }
            }
        }

        /// <summary>Most syncs in a row on the runtime state the previous one left (see <see cref="SyncAsync"/>).</summary>
        private const int MaxFollowUpSyncs = 8;

        /// <summary>
        /// Syncs the pod; returns when to sync again. A sync that acted (started a sidecar, finished
        /// the sandbox) may have made the next step possible: kubelet syncs again on the PLEG event for
        /// that change; here the next sync runs at once, on the runtime state the acting sync read
        /// back, so the relist's report of that state need not wake the worker (nor re-read the runtime).
        /// </summary>
        private async Task<TimeSpan> SyncAsync(CancellationToken ct)
        {
            lock (_heldEvents) _syncing = true;
            try
            {
                RuntimePodStatus? known = null;
                for (var round = 0; ; round++)
                {
                    var (wait, changed, runtime) = await SyncOnceAsync(known, ct).ConfigureAwait(false);
                    bool terminating;
                    lock (_lock) terminating = _terminating;
                    if (!changed || terminating || round == MaxFollowUpSyncs) return wait;
                    known = runtime;
                }
            }
            finally
            {
                PodLifecycleEvent[] held;
                lock (_heldEvents)
                {
                    _syncing = false;
                    held = [.. _heldEvents];
                    _heldEvents.Clear();
                }
                WakeUnlessSeen(held);
            }
        }

        /// <summary>One sync: read the runtime (unless <paramref name="known"/> is the state just read), act unless the pod is done, publish the status.</summary>
        private async Task<(TimeSpan Wait, bool Changed, RuntimePodStatus Runtime)> SyncOnceAsync(RuntimePodStatus? known, CancellationToken ct)
        {
            V1Pod desired;
            string operation;
            lock (_lock)
            {
                desired = _desired!;
                operation = _nextSync;
                _nextSync = "sync";
            }
            var started = owner._time.GetTimestamp();
            try
            {
                return await SyncPodOnceAsync(desired, known, ct).ConfigureAwait(false);
            }
            finally
            {
                owner.Metrics?.PodWorkerDuration.Observe(owner._time.GetElapsedTime(started), operation);
            }
        }

        private async Task<(TimeSpan Wait, bool Changed, RuntimePodStatus Runtime)> SyncPodOnceAsync(V1Pod desired, RuntimePodStatus? known, CancellationToken ct)
        {
            var manager = owner._manager;
            // As kubelet's workers, which sync a terminated pod once (syncTerminatedPod) and then leave its status
            // alone: the containers and sandbox that container GC removes afterwards must not turn its container
            // statuses back to waiting or drop its IPs.
            if (IsTerminated && _status is not null) return (owner._resync, false, _observed!);
            // A new pod the runtime has never seen needs no listing first (kubelet's pod cache is empty for it too).
            var runtime = known ?? (!_synced && !owner.MayExistInRuntime(uid) ? RuntimePodStatus.Empty(uid) : null)
                ?? await manager.GetPodStatusAsync(uid, ct).ConfigureAwait(false);
            _synced = true;
            var wait = owner._resync;
            var changed = false;

            PodEviction? eviction;
            lock (_lock) eviction = _eviction;
            var before = eviction?.Apply(owner._statusGenerator.Generate(desired, runtime, _status, _waiting, owner._probes))
                ?? owner._statusGenerator.Generate(desired, runtime, _status, _waiting, owner._probes);
            if (!_terminal && before.Phase is "Succeeded" or "Failed")
            {
                owner._log.Info($"pod {desired.Name()}: phase {before.Phase}{(eviction is null ? "" : $" ({eviction.Reason})")}; stopping its sandbox, its containers are not restarted.");
                _terminal = true;
            }
            if (_terminal)
            {
                if (runtime.AnyRunning)
                {
                    // An evicted pod is killed with the eviction manager's gracePeriodOverride.
                    await manager.KillPodAsync(desired, runtime, eviction?.GracePeriod, ct).ConfigureAwait(false);
                    runtime = await manager.GetPodStatusAsync(uid, ct).ConfigureAwait(false);
                }
                _waiting = new Dictionary<string, ContainerWaiting>();
            }
            else
            {
                var result = await manager.SyncPodAsync(desired, runtime, ct).ConfigureAwait(false);
                _waiting = result.Waiting;
                if (result.RetryAfter is { } retry && retry < wait) wait = retry + TimeSpan.FromMilliseconds(50);
                // Read the runtime again only when the sync changed something in it, and then only what it changed.
                changed = result.Changed;
                if (changed) runtime = await manager.GetPodStatusAfterSyncAsync(runtime, result, ct).ConfigureAwait(false);
                owner._probes.UpdatePod(desired, runtime, desired.Spec.HostNetwork == true ? null : runtime.LatestSandbox?.Ip);
            }
            var status = owner._statusGenerator.Generate(desired, runtime, _status ?? before, _waiting, owner._probes);
            Publish(desired, eviction?.Apply(status) ?? status);
            _observed = runtime;
            return (wait, changed, runtime);
        }

        private void Publish(V1Pod desired, V1PodStatus status)
        {
            var changed = _status is null || KubernetesJson.Serialize(_status) != KubernetesJson.Serialize(status);
            // As kubelet's SyncPod: the first status with phase Running observes the time since the pod was first seen.
            if (!_startObserved && status.Phase == "Running")
            {
                _startObserved = true;
                owner.Metrics?.PodStartDuration.Observe(owner._time.GetElapsedTime(_firstSeen));
            }
            lock (_lock) _status = status;
            if (!changed) return;
            var pod = Snapshot!;
            owner._sink.SetPodStatus(pod);
            owner.StatusChanged?.Invoke(pod);
        }

        public async Task KillAndRemoveAsync(CancellationToken ct)
        {
            V1Pod? desired;
            lock (_lock) desired = _desired;
            var manager = owner._manager;
            var runtime = await manager.GetPodStatusAsync(uid, ct).ConfigureAwait(false);
            var name = desired?.Name() ?? (runtime.Name.Length > 0 ? runtime.Name : uid);
            owner._log.Info($"pod {name}: no longer desired; killing it{(runtime.Containers.Any(c => c.State == ContainerState.Running) ? "" : " (nothing running)")} and removing its sandbox.");
            await manager.KillPodAsync(desired, runtime, null, ct).ConfigureAwait(false);
            runtime = await manager.GetPodStatusAsync(uid, ct).ConfigureAwait(false);
            var logDirectory = runtime.LatestSandbox is { } s
                ? PodSandboxSpec.DefaultLogDirectory(owner._podLogsRoot, s.Namespace, s.Name, uid)
                : desired is null ? null : PodSandboxSpec.DefaultLogDirectory(owner._podLogsRoot, desired.Namespace() ?? "default", desired.Name(), uid);
            await manager.RemovePodAsync(runtime, logDirectory, ct).ConfigureAwait(false);
            owner._probes.RemovePod(uid);
            owner._sink.RemovePod(uid);
            owner._log.Info($"pod {name}: removed.");
        }
    }
}
