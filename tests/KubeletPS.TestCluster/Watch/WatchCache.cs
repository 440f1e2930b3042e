using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Watch;

/// <summary>
/// The bounded window of recent changes that watches resume from, like the apiserver's watch cache:
/// a watch from a resourceVersion inside the window replays what followed it; one from before the window
/// gets 410 Expired ("too old resource version"). Not thread-safe: the ObjectStore calls it under its lock.
/// </summary>
public sealed class WatchCache(int capacity)
{
    private readonly Queue<StoredEvent> _window = new();
    private readonly List<Watcher> _watchers = [];
    private long _evictedUpTo;

    public int Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity));

    internal int WatcherCount => _watchers.Count;

    internal void Append(StoredEvent e)
    {
        _window.Enqueue(e);
        while (_window.Count > Capacity) _evictedUpTo = _window.Dequeue().ResourceVersion;
        foreach (var w in _watchers) w.Offer(e);
    }

    /// <summary>The events after <paramref name="resourceVersion"/>, or 410 Expired when some of them have left the window.</summary>
    internal IEnumerable<StoredEvent> Since(long resourceVersion)
    {
        if (resourceVersion < _evictedUpTo)
            throw ApiException.Expired($"too old resource version: {resourceVersion} ({_evictedUpTo + 1})");
        return _window.Where(e => e.ResourceVersion > resourceVersion).ToList();
    }

    /// <summary>Forgets the whole window, as a compaction would; every resourceVersion before now becomes too old.</summary>
    internal void Compact(long upTo)
    {
        _window.Clear();
        _evictedUpTo = upTo;
    }

    internal void Add(Watcher w) => _watchers.Add(w);

    internal void Remove(Watcher w) => _watchers.Remove(w);

    internal void DropAll()
    {
        foreach (var w in _watchers) w.Drop();
        _watchers.Clear();
    }
}
