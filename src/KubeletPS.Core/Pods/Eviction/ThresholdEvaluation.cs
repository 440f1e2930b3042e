namespace KubeletPS.Core.Pods.Eviction;

/// <summary>
/// Kubelet's pure threshold helpers (pkg/kubelet/eviction/helpers.go): which thresholds the observations
/// meet, since when, which node conditions they set and for how long those stay.
/// </summary>
public static class ThresholdEvaluation
{
    /// <summary>
    /// thresholdsMet: the thresholds whose signal's available amount is below the threshold (plus its
    /// minimum reclaim with <paramref name="enforceMinReclaim"/>: an eviction goes on until it is reached).
    /// </summary>
    public static List<EvictionThreshold> Met(IEnumerable<EvictionThreshold> thresholds, IReadOnlyDictionary<string, SignalObservation> observations, bool enforceMinReclaim)
    {
        var results = new List<EvictionThreshold>();
        foreach (var threshold in thresholds)
        {
            if (!observations.TryGetValue(threshold.Signal, out var observed)) continue;
            var quantity = threshold.Value.Resolve(observed.Capacity);
            if (enforceMinReclaim && threshold.MinReclaim is { } reclaim) quantity += reclaim.Resolve(observed.Capacity);
            if (quantity > observed.Available) results.Add(threshold);
        }
        return results;
    }

    /// <summary>mergeThresholds: the union, in order.</summary>
    public static List<EvictionThreshold> Merge(IEnumerable<EvictionThreshold> a, IEnumerable<EvictionThreshold> b) => a.Concat(b).Distinct().ToList();

    /// <summary>thresholdsFirstObservedAt: when each met threshold was first seen met (now for a new one).</summary>
    public static Dictionary<EvictionThreshold, DateTimeOffset> FirstObservedAt(IEnumerable<EvictionThreshold> thresholds,
        IReadOnlyDictionary<EvictionThreshold, DateTimeOffset> previous, DateTimeOffset now) =>
        thresholds.Distinct().ToDictionary(t => t, t => previous.TryGetValue(t, out var at) ? at : now);

    /// <summary>thresholdsMetGracePeriod: the thresholds met for at least their grace period (at once for hard ones).</summary>
    public static List<EvictionThreshold> MetGracePeriod(IReadOnlyDictionary<EvictionThreshold, DateTimeOffset> observedAt, DateTimeOffset now) =>
        observedAt.Where(p => now - p.Value >= p.Key.GracePeriod).Select(p => p.Key).ToList();

    /// <summary>nodeConditions: the conditions the thresholds set, each once.</summary>
    public static List<string> NodeConditions(IEnumerable<EvictionThreshold> thresholds) =>
        thresholds.Select(t => EvictionSignals.NodeCondition(t.Signal)).Distinct().ToList();

    /// <summary>nodeConditionsLastObservedAt: the conditions seen now get now; the others keep their last time.</summary>
    public static Dictionary<string, DateTimeOffset> ConditionsLastObservedAt(IEnumerable<string> conditions,
        IReadOnlyDictionary<string, DateTimeOffset> previous, DateTimeOffset now)
    {
        var results = new Dictionary<string, DateTimeOffset>(previous, StringComparer.Ordinal);
        foreach (var condition in conditions) results[condition] = now;
        return results;
    }

    /// <summary>nodeConditionsObservedSince: the conditions seen within the pressure transition period.</summary>
    public static List<string> ConditionsObservedSince(IReadOnlyDictionary<string, DateTimeOffset> lastObservedAt, TimeSpan period, DateTimeOffset now) =>
        EvictionSignals.Conditions.Where(c => lastObservedAt.TryGetValue(c, out var at) && now - at < period).ToList();

    /// <summary>thresholdsUpdatedStats: the thresholds whose signal was measured again since the last round.</summary>
    public static List<EvictionThreshold> UpdatedStats(IEnumerable<EvictionThreshold> thresholds,
        IReadOnlyDictionary<string, SignalObservation> observations, IReadOnlyDictionary<string, SignalObservation> last) =>
        thresholds.Where(t => observations.TryGetValue(t.Signal, out var observed)
            && (!last.TryGetValue(t.Signal, out var previous) || observed.Time == default || observed.Time > previous.Time)).ToList();

    /// <summary>byEvictionPriority then getReclaimableThreshold: a memory threshold first, else the first met.</summary>
    public static EvictionThreshold? ToReclaim(IReadOnlyList<EvictionThreshold> thresholds) =>
        thresholds.OrderBy(t => EvictionSignals.IsMemory(t.Signal) ? 0 : 1).FirstOrDefault();
}
