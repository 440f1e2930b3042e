using System.Globalization;
using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Pods.Eviction;

/// <summary>A threshold's amount: a quantity (bytes, inodes, pids) or a fraction of the signal's capacity.</summary>
public readonly record struct ThresholdValue(long? Quantity, float Percentage)
{
    /// <summary>Kubelet's GetThresholdQuantity: the quantity, or the percentage of <paramref name="capacity"/>.</summary>
    public long Resolve(long capacity) => Quantity ?? (long)(capacity * (double)Percentage);

    public override string ToString() => Quantity is { } q ? q.ToString(CultureInfo.InvariantCulture)
        : (Percentage * 100).ToString(CultureInfo.InvariantCulture) + "%";
}

/// <summary>
/// One eviction threshold (kubelet's evictionapi.Threshold): the signal is met when its available
/// amount is below <see cref="Value"/> ("&lt;", the only operator). A soft threshold has a grace period;
/// <see cref="MinReclaim"/> is how far past the threshold an eviction must bring the signal.
/// </summary>
public sealed record EvictionThreshold(string Signal, ThresholdValue Value, TimeSpan GracePeriod = default, ThresholdValue? MinReclaim = null)
{
    /// <summary>kubelet's isHardEvictionThreshold: no grace period.</summary>
    public bool IsHard => GracePeriod == TimeSpan.Zero;
}

/// <summary>
/// Kubelet's ParseThresholdConfig (pkg/kubelet/eviction/helpers.go): evictionHard, evictionSoft with
/// evictionSoftGracePeriod, evictionMinimumReclaim; with "pods" in enforceNodeAllocatable every hard
/// memory.available threshold is copied to allocatableMemory.available. Errors name the field and key.
/// </summary>
public static class EvictionThresholdParser
{
    public static IReadOnlyList<EvictionThreshold> Parse(KubeletConfiguration configuration, string? path = null) =>
        Parse(configuration.EvictionHard, configuration.EvictionSoft, configuration.EvictionSoftGracePeriod,
            configuration.EvictionMinimumReclaim, configuration.EnforceNodeAllocatable ?? [], path);

    public static IReadOnlyList<EvictionThreshold> Parse(
        IReadOnlyDictionary<string, string>? hard, IReadOnlyDictionary<string, string>? soft,
        IReadOnlyDictionary<string, string>? softGracePeriod, IReadOnlyDictionary<string, string>? minimumReclaim,
        IReadOnlyList<string> enforceNodeAllocatable, string? path = null)
    {
        var results = new List<EvictionThreshold>();
        results.AddRange(Statements("evictionHard", hard, path));
        var graces = GracePeriods(softGracePeriod, path);
        foreach (var threshold in Statements("evictionSoft", soft, path))
        {
            if (!graces.TryGetValue(threshold.Signal, out var grace))
                throw Error("evictionSoftGracePeriod", $"grace period must be specified for the soft eviction threshold {threshold.Signal}", path);
            results.Add(threshold with { GracePeriod = grace });
        }
        var reclaims = MinimumReclaims(minimumReclaim, path);
        for (var i = 0; i < results.Count; i++)
        {
            if (reclaims.TryGetValue(results[i].Signal, out var reclaim)) results[i] = results[i] with { MinReclaim = reclaim };
        }
        if (enforceNodeAllocatable.Contains("pods"))
        {
            results.AddRange(results.Where(t => t.Signal == EvictionSignals.MemoryAvailable && t.IsHard)
                .Select(t => t with { Signal = EvictionSignals.AllocatableMemoryAvailable }).ToList());
        }
        return results;
    }

    private static IEnumerable<EvictionThreshold> Statements(string field, IReadOnlyDictionary<string, string>? statements, string? path)
    {
        foreach (var (signal, text) in Ordered(statements))
        {
            var key = $"{field}[\"{signal}\"]";
            CheckSignal(key, signal, path);
            var val = text.Trim();
            if (val.EndsWith('%'))
            {
                if (val is "0%" or "100%") continue; // kubelet ignores them
                var percentage = Percentage(key, val, path);
                if (percentage < 0) throw Error(key, $"eviction percentage threshold {signal} must be >= 0%: {val}", path);
                if (percentage > 1) throw Error(key, $"eviction percentage threshold {signal} must be <= 100%: {val}", path);
                yield return new EvictionThreshold(signal, new ThresholdValue(null, percentage));
                continue;
            }
            var quantity = Quantity(key, val, path);
            if (quantity <= 0) throw Error(key, $"eviction threshold {signal} must be positive: {val}", path);
            yield return new EvictionThreshold(signal, new ThresholdValue(quantity, 0));
        }
    }

    private static Dictionary<string, TimeSpan> GracePeriods(IReadOnlyDictionary<string, string>? statements, string? path)
    {
        var results = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
        foreach (var (signal, val) in Ordered(statements))
        {
            var key = $"evictionSoftGracePeriod[\"{signal}\"]";
            CheckSignal(key, signal, path);
            if (!GoDuration.TryParse(val.Trim(), out var grace)) throw Error(key, $"\"{val}\" is not a duration (e.g. \"1m30s\")", path);
            if (grace < TimeSpan.Zero) throw Error(key, $"invalid eviction grace period specified: {val}, must be a positive value", path);
            results[signal] = grace;
        }
        return results;
    }

    private static Dictionary<string, ThresholdValue> MinimumReclaims(IReadOnlyDictionary<string, string>? statements, string? path)
    {
        var results = new Dictionary<string, ThresholdValue>(StringComparer.Ordinal);
        foreach (var (signal, text) in Ordered(statements))
        {
            var key = $"evictionMinimumReclaim[\"{signal}\"]";
            CheckSignal(key, signal, path);
            var val = text.Trim();
            if (val.EndsWith('%'))
            {
                var percentage = Percentage(key, val, path);
                if (percentage <= 0) throw Error(key, $"eviction percentage minimum reclaim {signal} must be positive: {val}", path);
                results[signal] = new ThresholdValue(null, percentage);
                continue;
            }
            var quantity = Quantity(key, val, path);
            if (quantity < 0) throw Error(key, $"negative eviction minimum reclaim specified for {signal}", path);
            results[signal] = new ThresholdValue(quantity, 0);
        }
        return results;
    }

    private static IEnumerable<KeyValuePair<string, string>> Ordered(IReadOnlyDictionary<string, string>? statements) =>
        (statements ?? new Dictionary<string, string>()).OrderBy(p => p.Key, StringComparer.Ordinal);

    private static void CheckSignal(string key, string signal, string? path)
    {
        if (!EvictionSignals.IsValid(signal)) throw Error(key, $"unsupported eviction signal {signal}", path);
    }

    private static float Percentage(string key, string val, string? path) =>
        float.TryParse(val.AsSpan(0, val.Length - 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value / 100
            : throw Error(key, $"\"{val}\" is not a quantity or percentage", path);

    private static long Quantity(string key, string val, string? path)
    {
        try
        {
            return (long)Api.QuantityExponents.Parse(val).ToDecimal();
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            throw Error(key, $"\"{val}\" is not a quantity or percentage", path);
        }
    }

    private static KubeletConfigException Error(string field, string message, string? path) =>
        new($"{field}: {message}", path, field: field);
}
