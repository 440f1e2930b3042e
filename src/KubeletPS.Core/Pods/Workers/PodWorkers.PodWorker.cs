using System.Threading.Channels;
using k8s;
using k8s.Models;
using KubeletPS.Core.Api;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Pleg;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.Workers;

// One pod's worker: its desired pod, the events that wake it, its sync loop and its termination.
public sealed partial class PodWorkers
{
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

        /// <summary>The phase of the latest status (null where <see cref="Snapshot"/> is), without a copy.</summary>
        public string? Phase
        {
            get { lock (_lock) return _desired is null ? null : _status?.Phase; }
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
            // A sync the timer starts (the periodic resync, a back-off or retry ending) with nothing having
            // woken the worker since a sync that ended normally: PLEG has reported no change of the pod, so
            // the runtime state that sync left is still the pod's, as kubelet's workers take it from PLEG's
            // cache rather than asking the runtime again.
            var fromCache = false;
            while (!ct.IsCancellationRequested)
            {
                TimeSpan wait = owner._resync;
                var clean = false;
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
                    wait = await SyncAsync(fromCache, ct).ConfigureAwait(false);
                    errorBackOff.Reset();
                    clean = true;
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
                fromCache = false;
                try { await _wake.Reader.ReadAsync(timer.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested) { fromCache = clean; }
                catch (OperationCanceledException) { return; }
            }
        }

        /// <summary>Most syncs in a row on the runtime state the previous one left (see <see cref="SyncAsync"/>).</summary>
        private const int MaxFollowUpSyncs = 8;

        /// <summary>
        /// Syncs the pod (on the runtime state the last sync left when <paramref name="fromCache"/>); returns when to sync again. A sync that acted (started a sidecar, finished
        /// the sandbox) may have made the next step possible: kubelet syncs again on the PLEG event for
        /// that change; here the next sync runs at once, on the runtime state the acting sync read
        /// back, so the relist's report of that state need not wake the worker (nor re-read the runtime).
        /// </summary>
        private async Task<TimeSpan> SyncAsync(bool fromCache, CancellationToken ct)
        {
            lock (_heldEvents) _syncing = true;
            try
            {
                RuntimePodStatus? known = fromCache ? _observed : null;
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
