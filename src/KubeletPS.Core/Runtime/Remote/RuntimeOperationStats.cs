using System.Collections.Concurrent;
using System.Text;
using KubeletPS.Core.Metrics;

namespace KubeletPS.Core.Runtime.Remote;

/// <summary>One CRI operation's totals: calls, failed calls and the time spent waiting for the runtime.</summary>
public sealed record RuntimeOperationTotals(string Operation, long Calls, long Errors, TimeSpan Duration, int MaxInFlight);

/// <summary>
/// Counters per CRI operation, as kubelet's <c>kubelet_runtime_operations_total</c>,
/// <c>_errors_total</c> and <c>_duration_seconds</c> metrics count them. Thread-safe.
/// </summary>
public sealed class RuntimeOperationStats
{
    private sealed class Counter
    {
        public long Calls;
        public long Errors;
        public long Ticks;
        public int InFlight;
        public int MaxInFlight;
    }

    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _labels = new(StringComparer.Ordinal);

    /// <summary>kubelet_runtime_operations_total{operation_type}.</summary>
    public Metrics.Counter Total { get; } = new("kubelet_runtime_operations_total", "[ALPHA] Cumulative number of runtime operations by operation type.", "operation_type");

    /// <summary>kubelet_runtime_operations_errors_total{operation_type}.</summary>
    public Metrics.Counter ErrorsTotal { get; } = new("kubelet_runtime_operations_errors_total", "[ALPHA] Cumulative number of runtime operation errors by operation type.", "operation_type");

    /// <summary>kubelet_runtime_operations_duration_seconds{operation_type}, with kubelet's buckets (ExponentialBuckets(.005, 2.5, 14)).</summary>
    public Histogram Durations { get; } = new("kubelet_runtime_operations_duration_seconds", "[ALPHA] Duration in seconds of runtime operations. Broken down by operation type.",
        Histogram.ExponentialBuckets(.005, 2.5, 14), "operation_type");

    /// <summary>The three families, for /metrics.</summary>
    public IReadOnlyList<MetricFamily> Families => [Total, ErrorsTotal, Durations];

    /// <summary>A call starts (the most calls of one operation in flight at once is kept).</summary>
    public void Begin(string operation)
    {
        var counter = _counters.GetOrAdd(operation, _ => new Counter());
        var now = Interlocked.Increment(ref counter.InFlight);
        for (var max = Volatile.Read(ref counter.MaxInFlight); now > max; max = Volatile.Read(ref counter.MaxInFlight))
        {
            if (Interlocked.CompareExchange(ref counter.MaxInFlight, now, max) == max) break;
        }
    }

    /// <summary>A call started with <see cref="Begin"/> ended.</summary>
    public void Record(string operation, TimeSpan duration, bool failed)
    {
        var counter = _counters.GetOrAdd(operation, _ => new Counter());
        if (Interlocked.Decrement(ref counter.InFlight) < 0) Interlocked.Exchange(ref counter.InFlight, 0);
        Interlocked.Increment(ref counter.Calls);
        if (failed) Interlocked.Increment(ref counter.Errors);
        Interlocked.Add(ref counter.Ticks, duration.Ticks);
        var label = _labels.GetOrAdd(operation, OperationType);
        Total.Inc(label);
        if (failed) ErrorsTotal.Inc(label);
        Durations.Observe(duration, label);
    }

    /// <summary>A CRI method name as kubelet labels it (its operation_type): ListPodSandbox → list_podsandbox.</summary>
    public static string OperationType(string operation)
    {
        var s = new StringBuilder();
        foreach (var c in operation.Replace("PodSandbox", "Podsandbox", StringComparison.Ordinal))
        {
            if (char.IsUpper(c) && s.Length > 0) s.Append('_');
            s.Append(char.ToLowerInvariant(c));
        }
        return s.ToString();
    }

    /// <summary>The totals so far, by operation name.</summary>
    public IReadOnlyList<RuntimeOperationTotals> Snapshot() => _counters
        .Select(kv => new RuntimeOperationTotals(kv.Key, Interlocked.Read(ref kv.Value.Calls), Interlocked.Read(ref kv.Value.Errors), TimeSpan.FromTicks(Interlocked.Read(ref kv.Value.Ticks)), Volatile.Read(ref kv.Value.MaxInFlight)))
        .OrderBy(t => t.Operation, StringComparer.Ordinal)
        .ToList();

    /// <summary>The calls made since <paramref name="before"/> (an earlier snapshot), busiest first.</summary>
    public static IReadOnlyList<RuntimeOperationTotals> Since(IReadOnlyList<RuntimeOperationTotals> now, IReadOnlyList<RuntimeOperationTotals> before)
    {
        var earlier = before.ToDictionary(t => t.Operation, StringComparer.Ordinal);
        return now.Select(t => earlier.TryGetValue(t.Operation, out var b) ? t with { Calls = t.Calls - b.Calls, Errors = t.Errors - b.Errors, Duration = t.Duration - b.Duration } : t)
            .Where(t => t.Calls > 0)
            .OrderByDescending(t => t.Calls)
            .ToList();
    }
}
