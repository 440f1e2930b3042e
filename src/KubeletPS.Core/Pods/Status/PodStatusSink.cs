using k8s;
using k8s.Models;

namespace KubeletPS.Core.Pods.Status;

/// <summary>
/// Where pod statuses go: the local store now (standalone), the API server's pods/status later
/// (the status manager). Called by the pod workers only when a status changed.
/// </summary>
public interface IPodStatusSink
{
    /// <summary>The pod (spec and metadata as desired) with its new status.</summary>
    void SetPodStatus(V1Pod pod);

    /// <summary>The pod is gone from the node: its containers and sandbox are removed.</summary>
    void RemovePod(string uid);
}

/// <summary>Writes statuses to <see cref="LocalPodStatusStore"/>, skipping writes that change nothing.</summary>
public sealed class LocalPodStatusSink(LocalPodStatusStore store) : IPodStatusSink
{
    private readonly Dictionary<string, string> _written = new(StringComparer.Ordinal);
    private readonly object _lock = new();

    public LocalPodStatusStore Store { get; } = store;

    /// <summary>How many times a file was written (for tests: an unchanged status is not written).</summary>
    public int Writes { get; private set; }

    public void SetPodStatus(V1Pod pod)
    {
        var json = KubernetesJson.Serialize(pod);
        lock (_lock)
        {
            if (_written.TryGetValue(pod.Metadata.Uid, out var last) && last == json) return;
            Store.Save(pod);
            _written[pod.Metadata.Uid] = json;
            Writes++;
        }
    }

    public void RemovePod(string uid)
    {
        lock (_lock)
        {
            _written.Remove(uid);
            Store.Delete(uid);
        }
    }
}
