using k8s;
using k8s.Models;
using KubeletPS.Core.Api;
using KubeletPS.Core.Pods.Manager;
using KubeletPS.Core.Pods.Status;

namespace KubeletPS.Core.Agent;

/// <summary>
/// Where the full agent's pod statuses go: the local store (Get-KubeletPod reads it) and the API
/// server's pods/status (through the <see cref="PodStatusManager"/>). When the workers have removed
/// a pod that the API server is deleting, the pod is deleted for good (grace period 0, UID
/// precondition), as kubelet's status manager does once a terminating pod's containers are gone.
/// </summary>
public sealed class KubeletStatusSink(LocalPodStatusSink local, PodStatusManager api, PodManager pods,
    IKubernetes client, ApiIdentity identity, IKubeletLog log) : IPodStatusSink
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
        api.RemovePod(uid);
        if (pods.GetPodByUid(uid) is { Metadata.DeletionTimestamp: not null } terminating)
        {
            _ = DeleteAsync(terminating);
        }
    }

    private async Task DeleteAsync(V1Pod pod)
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(10));
        for (var attempt = 1; attempt <= 10; attempt++)
        {
            try
            {
                await ApiCall.RunAsync(identity, "delete", "pods", $"{pod.Namespace()}/{pod.Name()}",
                    () => client.CoreV1.DeleteNamespacedPodAsync(pod.Name(), pod.Namespace(), new V1DeleteOptions
                    {
                        GracePeriodSeconds = 0,
                        Preconditions = new V1Preconditions { Uid = pod.Metadata.Uid },
                    }), CancellationToken.None).ConfigureAwait(false);
                log.Info($"pod {pod.Namespace()}/{pod.Name()}: containers gone; deleted from the API server.");
                return;
            }
            catch (KubeletApiException e) when (e.IsNotFound || e.IsConflict)
            {
                return; // already gone, or replaced by a pod with another UID
            }
            catch (KubeletApiException e)
            {
                log.Warning($"pod {pod.Namespace()}/{pod.Name()}: deleting it from the API server failed (attempt {attempt}): {e.Message}");
                await Task.Delay(backoff.Next()).ConfigureAwait(false);
            }
        }
    }
}
