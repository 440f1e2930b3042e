using k8s.Models;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Node;
using KubeletPS.Core.Pods.Admission;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.KubeRuntime;

namespace KubeletPS.Core.Pods.Eviction;

/// <summary>What the eviction manager runs with (kubelet's eviction.Config).</summary>
public sealed record EvictionConfig
{
    public IReadOnlyList<EvictionThreshold> Thresholds { get; init; } = [];

    /// <summary>evictionPressureTransitionPeriod: how long a pressure condition stays True after its last threshold was met.</summary>
    public TimeSpan PressureTransitionPeriod { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>evictionMaxPodGracePeriod: the grace period of a pod evicted for a soft threshold.</summary>
    public long MaxPodGracePeriodSeconds { get; init; }

    /// <summary>localStorageCapacityIsolation: whether the local storage limits (emptyDir sizeLimit, ephemeral-storage limits) evict.</summary>
    public bool LocalStorageCapacityIsolation { get; init; } = true;

    /// <summary>Kubelet's housekeeping interval for the eviction manager.</summary>
    public TimeSpan MonitoringInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The config a KubeletConfiguration gives; a bad threshold throws with the field's name.</summary>
    public static EvictionConfig FromConfiguration(Configuration.KubeletConfiguration configuration, string? path = null) => new()
    {
        Thresholds = EvictionThresholdParser.Parse(configuration, path),
        PressureTransitionPeriod = configuration.EvictionPressureTransitionPeriod,
        MaxPodGracePeriodSeconds = configuration.EvictionMaxPodGracePeriod,
        LocalStorageCapacityIsolation = configuration.LocalStorageCapacityIsolation != false,
    };
}

/// <summary>The eviction manager's hold on pods: kill one as evicted, and tell when its resources are reclaimed.</summary>
public interface IPodEvictor
{
    /// <summary>Kills the pod with the grace period and leaves it Failed with reason Evicted and the message; false when it cannot (already ending).</summary>
    bool EvictPod(V1Pod pod, long gracePeriodSeconds, string message);

    /// <summary>Whether the pod's containers are gone (kubelet's podResourcesAreReclaimed).</summary>
    bool IsCleanedUp(V1Pod pod);
}

/// <summary>
/// Kubelet's eviction manager (pkg/kubelet/eviction/eviction_manager.go). Each <see cref="SynchronizeAsync"/>
/// observes the signals, tracks which thresholds are met and since when, sets the pressure conditions (held for
/// the transition period), evicts pods over their emptyDir sizeLimit, and for a threshold met past its grace
/// period first reclaims node-level resources (disk signals: dead containers, unused images), then evicts the
/// first pod of kubelet's ranking that is not critical — one per round. <see cref="Admit"/> refuses pods under pressure.
/// </summary>
public sealed class EvictionManager : INodePressure
{
    /// <summary>Grace period of a pod evicted for a hard threshold or an emptyDir limit (immediateEvictionGracePeriodSeconds).</summary>
    public const long ImmediateEvictionGracePeriodSeconds = 1;

    /// <summary>How long the loop waits for an evicted pod to be cleaned up (podCleanupTimeout) and how often it looks.</summary>
    public static readonly TimeSpan PodCleanupTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan PodCleanupPollFrequency = TimeSpan.FromSeconds(1);

    private readonly EvictionConfig _config;
    private readonly IEvictionSignalSource? _signals;
    private readonly TimeProvider _time;
    private readonly IKubeletLog _log;
    private readonly object _lock = new();
    private IReadOnlyList<string> _nodeConditions = [];
    private IReadOnlyDictionary<EvictionThreshold, DateTimeOffset> _thresholdsFirstObservedAt = new Dictionary<EvictionThreshold, DateTimeOffset>();
    private IReadOnlyDictionary<string, DateTimeOffset> _nodeConditionsLastObservedAt = new Dictionary<string, DateTimeOffset>();
    private IReadOnlyList<EvictionThreshold> _thresholdsMet = [];
    private IReadOnlyDictionary<string, SignalObservation> _lastObservations = new Dictionary<string, SignalObservation>();
    private bool? _dedicatedImageFs;

    /// <param name="config">Thresholds and periods.</param>
    /// <param name="signals">The measurements; null only when <paramref name="config"/> has no thresholds.</param>
    /// <param name="time">The clock (a fake one in tests).</param>
    /// <param name="log">Where decisions are logged.</param>
    public EvictionManager(EvictionConfig config, IEvictionSignalSource? signals, TimeProvider time, IKubeletLog log)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (signals is null && config.Thresholds.Count > 0)
            throw new ArgumentException("Eviction thresholds are configured but no signal source is given.", nameof(signals));
        _config = config;
        _signals = signals;
        _time = time;
        _log = log;
    }

    public EvictionConfig Config => _config;

    /// <summary>Deletes unused images for disk signals; none configured: no image is deleted before pods are evicted.</summary>
    public IImageGarbageCollector? ImageGc { get; set; }

    /// <summary>Deletes dead containers for disk signals; none configured: no container is removed before pods are evicted.</summary>
    public IContainerGarbageCollector? ContainerGc { get; set; }

    /// <summary>Where the Evicted pod events and the node's EvictionThresholdMet events go.</summary>
    public IEventRecorder Events { get; init; } = NullEventRecorder.Instance;

    /// <summary>Where evictions (kubelet_evictions) and the age of the stats they were decided on are observed; none when null.</summary>
    public Metrics.KubeletMetricSet? Metrics { get; init; }

    /// <summary>The node the EvictionThresholdMet events are about; none without it.</summary>
    public string? NodeName { get; init; }

    /// <summary>The pressure conditions now True (MemoryPressure, DiskPressure, PIDPressure).</summary>
    public IReadOnlyList<string> NodeConditions
    {
        get { lock (_lock) return _nodeConditions; }
    }

    /// <summary>The thresholds met past their grace period in the last round.</summary>
    public IReadOnlyList<EvictionThreshold> ThresholdsMet
    {
        get { lock (_lock) return _thresholdsMet; }
    }

    public bool HasCondition(string conditionType) => NodeConditions.Contains(conditionType);

    /// <summary>
    /// Kubelet's eviction Admit: with no pressure every pod; critical pods always; under memory pressure alone
    /// every pod but a BestEffort one that does not tolerate the memory-pressure taint; under any other pressure none.
    /// </summary>
    public AdmissionResult Admit(V1Pod pod)
    {
        var conditions = NodeConditions;
        if (conditions.Count == 0 || EmptyDirLimits.IsCriticalPod(pod)) return AdmissionResult.Admit;
        if (conditions is [EvictionSignals.MemoryPressure])
        {
            if (PodRuntimeSpecs.QosClass(pod) != "BestEffort") return AdmissionResult.Admit;
            if ((pod.Spec.Tolerations ?? []).Any(t => ToleratesMemoryPressure(t))) return AdmissionResult.Admit;
        }
        _log.Info($"pod {pod.Namespace()}/{pod.Name()}: not admitted, the node has condition [{string.Join(' ', conditions)}].");
        return new AdmissionResult(false, EmptyDirLimits.Reason, $"The node had condition: [{string.Join(' ', conditions)}]. ");
    }

    /// <summary>TolerationsTolerateTaint for node.kubernetes.io/memory-pressure:NoSchedule.</summary>
    private static bool ToleratesMemoryPressure(V1Toleration t) =>
        (string.IsNullOrEmpty(t.Effect) || t.Effect == "NoSchedule")
        && (t.OperatorProperty == "Exists" ? string.IsNullOrEmpty(t.Key) || t.Key == PressureTaints.MemoryPressure
            : t.Key == PressureTaints.MemoryPressure && string.IsNullOrEmpty(t.Value));

    /// <summary>
    /// Runs rounds every monitoring interval until cancelled; after an eviction it waits (at most 30 s) for the
    /// evicted pods to be cleaned up before the next round, as kubelet's Start loop.
    /// </summary>
    public async Task RunAsync(Func<IReadOnlyList<V1Pod>> activePods, Func<EmptyDirLimits?> localStorage, IPodEvictor evictor, CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(_config.MonitoringInterval, _time, cancellationToken).ConfigureAwait(false);
                IReadOnlyList<V1Pod> evicted;
                try { evicted = await SynchronizeAsync(activePods(), localStorage(), evictor, cancellationToken).ConfigureAwait(false); }
                catch (Exception e) when (e is KubeletException or IOException or UnauthorizedAccessException)
                {
                    _log.Warning($"eviction manager: failed to synchronize: {e.Message}");
                    continue;
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                {
                    // A bug must not end the eviction loop silently (kubelet's manager runs every interval regardless):
                    // say so, with where, and try again at the next interval.
                    _log.Error($"eviction manager: failed to synchronize unexpectedly, trying again in {GoDuration.Format(_config.MonitoringInterval)}: {e}");
                    continue;
                }
                if (evicted.Count > 0) await WaitForPodsCleanupAsync(evictor, evicted, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task WaitForPodsCleanupAsync(IPodEvictor evictor, IReadOnlyList<V1Pod> pods, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + PodCleanupTimeout;
        while (_time.GetUtcNow() < deadline)
        {
            await Task.Delay(PodCleanupPollFrequency, _time, cancellationToken).ConfigureAwait(false);
            if (pods.All(evictor.IsCleanedUp)) return;
        }
        _log.Info($"eviction manager: timed out waiting for pods to be cleaned up: {string.Join(", ", pods.Select(p => p.Namespace() + "/" + p.Name()))}");
    }

    /// <summary>One round (kubelet's synchronize); returns the pods evicted in it (none, one, or those over an emptyDir limit).</summary>
    public async Task<IReadOnlyList<V1Pod>> SynchronizeAsync(IReadOnlyList<V1Pod> activePods, EmptyDirLimits? localStorage, IPodEvictor evictor, CancellationToken cancellationToken)
    {
        var thresholds = _config.Thresholds;
        var observations = EvictionObservations.Empty;
        // Pod stats are read for the thresholds, and for a pod with an ephemeral-storage limit to check.
        var ephemeralLimits = _config.LocalStorageCapacityIsolation && activePods.Any(EphemeralStorageLimits.HasLimit);
        if (_signals is not null && (thresholds.Count > 0 || ephemeralLimits))
        {
            _dedicatedImageFs ??= await _signals.HasDedicatedImageFsAsync(cancellationToken).ConfigureAwait(false);
            observations = await _signals.ObserveAsync(cancellationToken).ConfigureAwait(false);
            // Cached figures (up to one interval old) that meet a threshold, or a threshold met before, are measured
            // anew before anything is decided on them.
            if (_signals.ServesCachedObservations && (ThresholdsMet.Count > 0 || ThresholdEvaluation.Met(thresholds, observations.Signals, enforceMinReclaim: false).Count > 0))
                observations = await _signals.ObserveFreshAsync(cancellationToken).ConfigureAwait(false);
            if (thresholds.Count > 0) thresholds = Evaluate(observations);
        }

        // Local storage limits are checked every round, before the thresholds (localStorageEviction): emptyDir
        // sizeLimits, then the pod's and its containers' ephemeral-storage limits over the stats provider's figures.
        if (_config.LocalStorageCapacityIsolation)
        {
            var requests = localStorage?.Check(activePods).ToList() ?? [];
            foreach (var pod in activePods)
            {
                if (pod.Status?.Phase is "Succeeded" or "Failed" || EmptyDirLimits.IsCriticalPod(pod) || requests.Any(r => r.Pod == pod)) continue;
                if (observations.Pods.TryGetValue(pod.Metadata.Uid, out var stats) && EphemeralStorageLimits.Check(pod, stats, _dedicatedImageFs == true) is { } request)
                    requests.Add(request);
            }
            var evicted = new List<V1Pod>();
            foreach (var request in requests)
            {
                if (!Evict(request.Pod, ImmediateEvictionGracePeriodSeconds, request.Message, evictor)) continue;
                Metrics?.Evictions.Inc(request.Signal);
                evicted.Add(request.Pod);
            }
            if (evicted.Count > 0) return evicted;
        }

        if (ThresholdEvaluation.ToReclaim(thresholds) is not { } toReclaim) return [];
        var resource = EvictionSignals.Resource(toReclaim.Signal);
        _log.Info($"eviction manager: attempting to reclaim {resource}");
        if (NodeName is not null)
            Events.Event(EventReferences.ForNode(NodeName), EventTypes.Warning, "EvictionThresholdMet", $"Attempting to reclaim {resource}");

        if (await ReclaimNodeLevelResourcesAsync(toReclaim.Signal, resource, cancellationToken).ConfigureAwait(false))
        {
            _log.Info($"eviction manager: able to reduce {resource} pressure without evicting pods.");
            return [];
        }
        if (activePods.Count == 0)
        {
            _log.Warning("eviction manager: eviction thresholds have been met, but no pods are active to evict");
            return [];
        }
        // Kubelet records how old the figures behind each met threshold are, before ranking on them.
        var now = _time.GetUtcNow();
        foreach (var threshold in thresholds)
        {
            if (observations.Signals.TryGetValue(threshold.Signal, out var observed) && observed.Time != default)
                Metrics?.EvictionStatsAge.Observe(now - observed.Time, threshold.Signal);
        }
        var ranked = EvictionRanking.Rank(toReclaim.Signal, _dedicatedImageFs == true, activePods, observations.Pods);
        _log.Info($"eviction manager: must evict pod(s) to reclaim {resource}; ranked: {string.Join(", ", ranked.Select(p => p.Namespace() + "/" + p.Name()))}");
        foreach (var pod in ranked)
        {
            var grace = toReclaim.IsHard ? ImmediateEvictionGracePeriodSeconds : _config.MaxPodGracePeriodSeconds;
            var message = EvictionRanking.Message(resource, pod, observations, thresholds);
            if (!Evict(pod, grace, message, evictor)) continue;
            Metrics?.Evictions.Inc(toReclaim.Signal);
            return [pod];
        }
        _log.Info("eviction manager: unable to evict any pods from the node");
        return [];
    }

    /// <summary>The threshold bookkeeping of synchronize; returns the thresholds to act on (met past their grace period, measured anew).</summary>
    private List<EvictionThreshold> Evaluate(EvictionObservations observations)
    {
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            var met = ThresholdEvaluation.Met(_config.Thresholds, observations.Signals, enforceMinReclaim: false);
            if (_thresholdsMet.Count > 0)
                met = ThresholdEvaluation.Merge(met, ThresholdEvaluation.Met(_thresholdsMet, observations.Signals, enforceMinReclaim: true));
            var firstObservedAt = ThresholdEvaluation.FirstObservedAt(met, _thresholdsFirstObservedAt, now);
            var lastObservedAt = ThresholdEvaluation.ConditionsLastObservedAt(ThresholdEvaluation.NodeConditions(met), _nodeConditionsLastObservedAt, now);
            var conditions = ThresholdEvaluation.ConditionsObservedSince(lastObservedAt, _config.PressureTransitionPeriod, now);
            var pastGrace = ThresholdEvaluation.MetGracePeriod(firstObservedAt, now);
            if (!conditions.SequenceEqual(_nodeConditions))
                _log.Info($"eviction manager: node conditions now [{string.Join(' ', conditions)}]");
            _nodeConditions = conditions;
            _thresholdsFirstObservedAt = firstObservedAt;
            _nodeConditionsLastObservedAt = lastObservedAt;
            _thresholdsMet = pastGrace;
            var updated = ThresholdEvaluation.UpdatedStats(pastGrace, observations.Signals, _lastObservations);
            _lastObservations = observations.Signals;
            return updated;
        }
    }

    /// <summary>
    /// reclaimNodeLevelResources: for a disk signal, dead containers then unused images (imagefs signals only when the
    /// images have a file system of their own); true when the thresholds, minimum reclaim included, are no longer met.
    /// </summary>
    private async Task<bool> ReclaimNodeLevelResourcesAsync(string signal, string resource, CancellationToken cancellationToken)
    {
        var reclaims = new List<Func<CancellationToken, Task>>();
        var diskSignal = signal is EvictionSignals.NodeFsAvailable or EvictionSignals.NodeFsInodesFree or EvictionSignals.ImageFsAvailable or EvictionSignals.ImageFsInodesFree;
        var imageSignal = signal is EvictionSignals.ImageFsAvailable or EvictionSignals.ImageFsInodesFree;
        if (diskSignal && (imageSignal || _dedicatedImageFs != true))
        {
            if (ContainerGc is { } containers) reclaims.Add(containers.DeleteAllUnusedContainersAsync);
            if (ImageGc is { } images) reclaims.Add(async ct => _log.Info($"eviction manager: unused images freed {await images.DeleteUnusedImagesAsync(ct).ConfigureAwait(false)} bytes"));
        }
        if (reclaims.Count == 0) return false;
        foreach (var reclaim in reclaims)
        {
            try { await reclaim(cancellationToken).ConfigureAwait(false); }
            catch (KubeletException e) { _log.Info($"eviction manager: unexpected error when attempting to reduce {resource} pressure: {e.Message}"); }
        }
        var after = await _signals!.ObserveFreshAsync(cancellationToken).ConfigureAwait(false);
        return ThresholdEvaluation.Met(_config.Thresholds, after.Signals, enforceMinReclaim: true).Count == 0;
    }

    /// <summary>kubelet's evictPod: never a critical pod; an Evicted warning event, then the kill.</summary>
    private bool Evict(V1Pod pod, long gracePeriodSeconds, string message, IPodEvictor evictor)
    {
        if (EmptyDirLimits.IsCriticalPod(pod))
        {
            _log.Warning($"eviction manager: cannot evict a critical pod {pod.Namespace()}/{pod.Name()}");
            return false;
        }
        if (!evictor.EvictPod(pod, gracePeriodSeconds, message)) return false;
        _log.Info($"eviction manager: evicting pod {pod.Namespace()}/{pod.Name()} (grace period {gracePeriodSeconds} s): {message}");
        Events.Event(EventReferences.ForPod(pod), EventTypes.Warning, EmptyDirLimits.Reason, message);
        return true;
    }
}

/// <summary>The taints the node lifecycle controller puts on a node under pressure (TaintNodesByCondition, NoSchedule).</summary>
public static class PressureTaints
{
    public const string MemoryPressure = "node.kubernetes.io/memory-pressure";
    public const string DiskPressure = "node.kubernetes.io/disk-pressure";
    public const string PidPressure = "node.kubernetes.io/pid-pressure";
}
