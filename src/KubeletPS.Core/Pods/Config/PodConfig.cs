using k8s.Models;

namespace KubeletPS.Core.Pods.Config;

/// <summary>
/// Kubelet's pod config: merges the snapshots of every pod source (by source name → its pods) into
/// the desired pods keyed by UID. Housekeeping (killing pods nobody wants) may only start once every
/// source has delivered its first snapshot (<see cref="AllSourcesSeen"/>), else a restarted agent
/// would kill the pods it should adopt.
/// </summary>
public sealed class PodConfig
{
    private readonly Dictionary<string, PodSourceSnapshot> _bySource = new(StringComparer.Ordinal);
    private readonly HashSet<string> _expected;
    private readonly object _lock = new();

    public PodConfig(IEnumerable<string> sourceNames)
    {
        _expected = new HashSet<string>(sourceNames, StringComparer.Ordinal);
    }

    /// <summary>True once every expected source has sent a snapshot, and none is waiting for a definition still being written.</summary>
    public bool AllSourcesSeen
    {
        get { lock (_lock) return _expected.All(s => _bySource.TryGetValue(s, out var snapshot) && !snapshot.Settling); }
    }

    /// <summary>Replaces a source's pods (kubelet's SET operation); returns the merged desired pods.</summary>
    public IReadOnlyDictionary<string, V1Pod> Set(PodSourceSnapshot snapshot)
    {
        lock (_lock)
        {
            _bySource[snapshot.Source] = snapshot;
            return MergeLocked();
        }
    }

    /// <summary>The desired pods by UID. A UID claimed by two sources goes to the first source in name order.</summary>
    public IReadOnlyDictionary<string, V1Pod> Desired
    {
        get { lock (_lock) return MergeLocked(); }
    }

    public IReadOnlyList<PodSourceError> Errors
    {
        get { lock (_lock) return _bySource.Values.SelectMany(s => s.Errors).ToList(); }
    }

    private Dictionary<string, V1Pod> MergeLocked()
    {
        var desired = new Dictionary<string, V1Pod>(StringComparer.Ordinal);
        foreach (var source in _bySource.Keys.Order(StringComparer.Ordinal))
        {
            foreach (var pod in _bySource[source].Pods)
            {
                desired.TryAdd(pod.Metadata.Uid, pod);
            }
        }
        return desired;
    }
}
