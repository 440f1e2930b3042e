using k8s.Models;
using KubeletPS.Core.Pods.Manager;
using KubeletPS.Core.Pods.Status;

namespace KubeletPS.Core.Agent;

/// <summary>
/// Where the full agent's pod statuses go: the local store (Get-KubeletPod reads it) and the API
/// server's pods/status (through the <see cref="PodStatusManager"/>). When the workers have removed
/// a pod that the API server is deleting, the status manager deletes it for good (grace period 0,
/// UID precondition), as kubelet's status manager does once a terminating pod's containers are gone.
/// </summary>
public sealed class KubeletStatusSink(LocalPodStatusSink local, PodStatusManager api, PodManager pods) : IPodStatusSink
{
    public void SetPodStatus(V1Pod pod)
    {
        local.SetPodStatus(pod);
        // The API's copy of the pod tells the status manager what the server already holds.
        if (pods.GetPodByUid(pod.Metadata.Uid) is { } apiPod) api.SetPodStatus(apiPod, pod.Status);
        else api.SetPodStatus(pod);
    }

    public void RemovePod(string uid)
    {
        local.RemovePod(uid);
        api.RemovePod(uid, pods.GetPodByUid(uid));
    }
}
