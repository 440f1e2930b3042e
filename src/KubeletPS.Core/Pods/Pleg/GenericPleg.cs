using KubeletPS.Core.Api;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.Pleg;

public enum PodLifecycleEventType { ContainerStarted, ContainerDied, ContainerRemoved, ContainerChanged, SandboxChanged }

/// <summary>
/// A change the relist saw for one pod: the sandbox (Id "sandbox:&lt;id&gt;") or container, and the
/// state it was found in (a <see cref="PodSandboxState"/> or <see cref="ContainerState"/> name; null when it is gone).
/// </summary>
public sealed record PodLifecycleEvent(string PodUid, PodLifecycleEventType Type, string Id, string? State = null)
{
    public const string SandboxPrefix = "sandbox:";

    /// <summary>
    /// True when a runtime read of the pod already showed what this event reports, or a later state
    /// of the same sandbox or container (states only move forward: Created, Running, Exited;
    /// Ready, NotReady): waking the pod's worker for it would only read the runtime again.
    /// </summary>
    public bool IsSeenIn(RuntimePodStatus observed)
    {
        if (Id.StartsWith(SandboxPrefix, StringComparison.Ordinal))
        {
            var id = Id[SandboxPrefix.Length..];
            var sandbox = observed.Sandboxes.FirstOrDefault(s => s.Id == id);
            if (State is null) return sandbox is null;
            return sandbox is not null && Enum.TryParse<PodSandboxState>(State, out var state) && sandbox.State >= state;
        }
        var container = observed.Containers.FirstOrDefault(c => c.Id == Id);
        if (State is null) return container is null;
        return container is not null && Enum.TryParse<ContainerState>(State, out var reported) && reported != ContainerState.Unknown
            && container.State != ContainerState.Unknown && container.State >= reported;
    }
}

/// <summary>
/// Kubelet's generic PLEG: relists sandboxes and containers every relist period, diffs their states
/// with the previous relist and reports an event per change, keyed by pod UID. When the runtime
/// cannot be reached the relist is retried with a back-off (1 s doubling to 30 s); the last known
/// state is kept, so nothing is reported as gone while the runtime is away.
/// </summary>
public sealed class GenericPleg(IRuntimeService runtime, TimeSpan relistPeriod, IKubeletLog log, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private Dictionary<string, (string Uid, string State)> _last = new(StringComparer.Ordinal);
    private volatile bool _healthy = true;

    /// <summary>Pod UIDs (from kubelet's labels) seen in the last relist.</summary>
    public IReadOnlySet<string> PodUids { get; private set; } = new HashSet<string>();

    /// <summary>False while the runtime cannot be reached.</summary>
    public bool Healthy => _healthy;

    public DateTimeOffset? LastRelist { get; private set; }

    /// <summary>Where relist durations and intervals are observed (kubelet_pleg_relist_duration_seconds, _interval_seconds); none when null.</summary>
    public Metrics.KubeletMetricSet? Metrics { get; init; }

    private long _lastRelistStart;

    /// <summary>Raised after each successful relist.</summary>
    public event Action? Relisted;

    /// <summary>Raised for each change a relist saw, before <see cref="Relisted"/>.</summary>
    public event Action<PodLifecycleEvent>? PodEvent;

    /// <summary>
    /// False only when a relist has run and saw nothing of the pod: then the runtime holds nothing of
    /// it (a pod worker's first sync need not list the runtime). True before the first relist.
    /// </summary>
    public bool MayHavePod(string uid) => LastRelist is null || PodUids.Contains(uid);

    public async Task RelistAsync(CancellationToken ct)
    {
        // As kubelet's relist: the interval from the previous relist's start, the duration of this one (also when it fails).
        var started = _time.GetTimestamp();
        if (_lastRelistStart != 0) Metrics?.PlegRelistInterval.Observe(_time.GetElapsedTime(_lastRelistStart, started));
        _lastRelistStart = started;
        try
        {
            await RelistOnceAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            Metrics?.PlegRelistDuration.Observe(_time.GetElapsedTime(started));
        }
    }

    private async Task RelistOnceAsync(CancellationToken ct)
    {
        var (pods, _) = await RuntimePods.GetPodsAsync(runtime, ct).ConfigureAwait(false);
        var current = new Dictionary<string, (string Uid, string State)>(StringComparer.Ordinal);
        foreach (var pod in pods)
        {
            foreach (var s in pod.Sandboxes) current[PodLifecycleEvent.SandboxPrefix + s.Id] = (pod.Uid, s.State.ToString());
            foreach (var c in pod.Containers) current[c.Id] = (pod.Uid, c.State.ToString());
        }

        var events = new List<PodLifecycleEvent>();
        foreach (var (id, now) in current)
        {
            if (_last.TryGetValue(id, out var before) && before.State == now.State) continue;
            events.Add(new PodLifecycleEvent(now.Uid, id.StartsWith(PodLifecycleEvent.SandboxPrefix, StringComparison.Ordinal) ? PodLifecycleEventType.SandboxChanged
                : now.State switch
                {
                    nameof(ContainerState.Running) => PodLifecycleEventType.ContainerStarted,
                    nameof(ContainerState.Exited) => PodLifecycleEventType.ContainerDied,
                    _ => PodLifecycleEventType.ContainerChanged,
                }, id, now.State));
        }
        foreach (var (id, before) in _last)
        {
            if (!current.ContainsKey(id))
                events.Add(new PodLifecycleEvent(before.Uid, id.StartsWith(PodLifecycleEvent.SandboxPrefix, StringComparison.Ordinal) ? PodLifecycleEventType.SandboxChanged : PodLifecycleEventType.ContainerRemoved, id));
        }
        _last = current;
        PodUids = current.Values.Select(v => v.Uid).ToHashSet(StringComparer.Ordinal);
        LastRelist = _time.GetUtcNow();
        if (!_healthy)
        {
            _healthy = true;
            log.Info($"container runtime {runtime.Endpoint} is reachable again; relisting resumed.");
        }
        foreach (var e in events) PodEvent?.Invoke(e);
        Relisted?.Invoke();
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var backOff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), jitter: 0);
        while (!ct.IsCancellationRequested)
        {
            var wait = relistPeriod;
            try
            {
                await RelistAsync(ct).ConfigureAwait(false);
                backOff.Reset();
            }
            catch (KubeletRuntimeException e)
            {
                if (_healthy) log.Warning($"PLEG relist failed, the pods keep their last known state: {e.Message}");
                _healthy = false;
                wait = backOff.Next();
            }
            try { await Task.Delay(wait, _time, ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
        }
    }
}
