namespace KubeletPS.Core.Stats;

/// <summary>
/// usageNanoCores as kubelet's CRI stats provider computes it (cpuUsageCache): the runtime gives
/// cumulative core-nanoseconds, the rate is the difference between this sample and the cached
/// previous one over the time between them. The first sample of a container (pod, node) has no
/// rate; a counter that went back (a restarted container under the same key) starts over. Only
/// <see cref="Update"/> moves the cache — kubelet lets one periodic caller do it (the eviction
/// manager) and serves the last rate to everyone else (<see cref="Get"/>), so that rates do not
/// depend on how often someone reads /stats/summary. Entries not updated for 10 minutes are dropped.
/// </summary>
public sealed class CpuUsageCache
{
    /// <summary>kubelet's defaultCachePeriod.</summary>
    public static readonly TimeSpan DefaultRetention = TimeSpan.FromMinutes(10);

    private readonly Dictionary<string, Record> _records = new(StringComparer.Ordinal);
    private readonly object _lock = new();
    private readonly TimeSpan _retention;

    public CpuUsageCache(TimeSpan? retention = null) => _retention = retention ?? DefaultRetention;

    private readonly record struct Record(long TimestampNanos, ulong UsageCoreNanoSeconds, ulong? UsageNanoCores);

    /// <summary>Records a sample and returns the rate since the previous one; null on the first sample or when the counter went back.</summary>
    public ulong? Update(string key, long timestampNanos, ulong usageCoreNanoSeconds)
    {
        lock (_lock)
        {
            if (!_records.TryGetValue(key, out var cached) || usageCoreNanoSeconds < cached.UsageCoreNanoSeconds)
            {
                _records[key] = new Record(timestampNanos, usageCoreNanoSeconds, null);
                return null;
            }
            var interval = timestampNanos - cached.TimestampNanos;
            // The same sample again (or a clock step back): keep the rate known so far.
            if (interval <= 0) return cached.UsageNanoCores;
            var rate = (ulong)((usageCoreNanoSeconds - cached.UsageCoreNanoSeconds) / (double)interval * 1e9);
            _records[key] = new Record(timestampNanos, usageCoreNanoSeconds, rate);
            return rate;
        }
    }

    /// <summary>
    /// The rate for a sample of <paramref name="key"/>: <see cref="Update"/> when this caller is the one that samples
    /// (<paramref name="update"/>), else <see cref="Get"/>; null when the sample has no usage.
    /// </summary>
    public ulong? Rate(string key, long timestampNanos, ulong? usageCoreNanoSeconds, bool update) =>
        usageCoreNanoSeconds is not { } usage ? null : update ? Update(key, timestampNanos, usage) : Get(key);

    /// <summary>The last computed rate for the key, without sampling.</summary>
    public ulong? Get(string key)
    {
        lock (_lock) return _records.TryGetValue(key, out var cached) ? cached.UsageNanoCores : null;
    }

    /// <summary>Drops the entries whose last sample is older than the retention (kubelet's cleanupOutdatedCaches).</summary>
    public void Prune(long nowNanos)
    {
        lock (_lock)
        {
            var limit = nowNanos - _retention.Ticks * 100;
            foreach (var key in _records.Where(r => r.Value.TimestampNanos < limit).Select(r => r.Key).ToList()) _records.Remove(key);
        }
    }

    public int Count { get { lock (_lock) return _records.Count; } }
}
