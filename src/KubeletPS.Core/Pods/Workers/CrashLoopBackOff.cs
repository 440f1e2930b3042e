namespace KubeletPS.Core.Pods.Workers;

/// <summary>
/// Kubelet's container restart back-off (flowcontrol.Backoff as used by the kuberuntime manager):
/// keyed by pod and container, the first restart is immediate, then each one waits the back-off
/// counted from when the container last finished: 10 s, doubling to 5 min. An entry idle for twice
/// the maximum is forgotten, and a container that ran for <see cref="ResetAfter"/> (10 min) starts
/// again from the base delay. The clock is a <see cref="TimeProvider"/> so tests can compress it.
/// </summary>
public sealed class CrashLoopBackOff(TimeSpan baseDelay, TimeSpan maxDelay, TimeProvider? time = null)
{
    public static readonly TimeSpan DefaultBase = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan DefaultMax = TimeSpan.FromMinutes(5);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Dictionary<string, (TimeSpan Delay, DateTimeOffset LastUpdate)> _entries = new(StringComparer.Ordinal);
    private readonly object _lock = new();

    public CrashLoopBackOff(TimeProvider? time = null) : this(DefaultBase, DefaultMax, time) { }

    public TimeSpan BaseDelay { get; } = baseDelay;
    public TimeSpan MaxDelay { get; } = maxDelay;

    /// <summary>A container that ran this long before it exited starts again from the base delay.</summary>
    public TimeSpan ResetAfter { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Kubelet's key: pod name, namespace, uid, container name and spec hash.</summary>
    public static string Key(string podName, string podNamespace, string podUid, string containerName, string hash)
        => $"{podName}_{podNamespace}_{podUid}_{containerName}_{hash}";

    /// <summary>
    /// Whether a restart of a container that finished at <paramref name="finishedAt"/> must still wait;
    /// when it must, <paramref name="remaining"/> says how long and <paramref name="delay"/> the whole back-off.
    /// </summary>
    public bool IsInBackOffSince(string key, DateTimeOffset finishedAt, out TimeSpan delay, out TimeSpan remaining)
    {
        lock (_lock)
        {
            delay = TimeSpan.Zero;
            remaining = TimeSpan.Zero;
            if (!_entries.TryGetValue(key, out var entry) || HasExpired(finishedAt, entry.LastUpdate)) return false;
            delay = entry.Delay;
            var since = _time.GetUtcNow() - finishedAt;
            remaining = entry.Delay - since;
            return since < entry.Delay;
        }
    }

    /// <summary>Records a restart: the next one waits twice as long (up to the maximum).</summary>
    /// <param name="ranFor">How long the finished container ran; at least <see cref="ResetAfter"/> resets the back-off.</param>
    public TimeSpan Next(string key, DateTimeOffset finishedAt, TimeSpan ranFor = default)
    {
        lock (_lock)
        {
            TimeSpan delay;
            if (!_entries.TryGetValue(key, out var entry) || HasExpired(finishedAt, entry.LastUpdate) || ranFor >= ResetAfter)
            {
                delay = BaseDelay;
            }
            else
            {
                delay = entry.Delay * 2 > MaxDelay ? MaxDelay : entry.Delay * 2;
            }
            _entries[key] = (delay, _time.GetUtcNow());
            return delay;
        }
    }

    /// <summary>The current back-off of a key, or zero when it has none.</summary>
    public TimeSpan Current(string key)
    {
        lock (_lock) return _entries.TryGetValue(key, out var entry) ? entry.Delay : TimeSpan.Zero;
    }

    public void Reset(string key)
    {
        lock (_lock) _entries.Remove(key);
    }

    /// <summary>Forgets every key of a pod (when the pod is gone).</summary>
    public void ForgetPod(string podUid)
    {
        lock (_lock)
        {
            foreach (var key in _entries.Keys.Where(k => k.Contains($"_{podUid}_", StringComparison.Ordinal)).ToList()) _entries.Remove(key);
        }
    }

    /// <summary>Drops entries idle for more than twice the maximum (kubelet's GC of the back-off).</summary>
    public void Gc()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            foreach (var key in _entries.Where(e => HasExpired(now, e.Value.LastUpdate)).Select(e => e.Key).ToList()) _entries.Remove(key);
        }
    }

    private bool HasExpired(DateTimeOffset eventTime, DateTimeOffset lastUpdate) => eventTime - lastUpdate > MaxDelay * 2;
}
