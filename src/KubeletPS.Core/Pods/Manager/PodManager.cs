using k8s.Models;

namespace KubeletPS.Core.Pods.Manager;

/// <summary>
/// kubelet's pod manager (pkg/kubelet/pod/pod_manager.go): the pods the API server last listed for
/// this node, mirror pods and terminating pods included, in one place. The API pod source writes it;
/// the status sink (what the server holds of a pod) and the mirror pod loop read it, so none of them
/// needs the others to exist first.
/// </summary>
public sealed class PodManager
{
    private IReadOnlyList<V1Pod> _apiPods = [];

    /// <summary>Every pod of the last list, as the API server had it.</summary>
    public IReadOnlyList<V1Pod> ApiPods => Volatile.Read(ref _apiPods);

    /// <summary>The mirror pods among <see cref="ApiPods"/> (the API's copies of static pods).</summary>
    public IReadOnlyList<V1Pod> MirrorPods => ApiPods.Where(Manager.MirrorPods.IsMirrorPod).ToList();

    /// <summary>Replaces the API pods with the server's latest list (the list is kept, not copied).</summary>
    public void SetApiPods(IReadOnlyList<V1Pod> pods) => Volatile.Write(ref _apiPods, pods);

    /// <summary>The pod with this UID as the API server last had it, or null.</summary>
    public V1Pod? GetPodByUid(string uid) => ApiPods.FirstOrDefault(p => p.Metadata.Uid == uid);
}
