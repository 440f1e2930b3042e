using k8s;
using k8s.Models;

namespace KubeletPS.Core.Pods.Config;

/// <summary>
/// kubelet's podsDifferSemantically (pkg/kubelet/config/config.go): a pod whose spec, labels,
/// annotations and deletion did not change (a status echo from the API, another pod's edit) is the
/// same pod to its worker, and does not wake it.
/// </summary>
internal static class PodSemantics
{
    /// <summary>What podsDifferSemantically compares, as one string: equal keys, no semantic change.</summary>
    public static string Key(V1Pod pod) => KubernetesJson.Serialize(new V1Pod
    {
        Metadata = new V1ObjectMeta
        {
            Labels = pod.Metadata?.Labels,
            Annotations = pod.Metadata?.Annotations,
            DeletionTimestamp = pod.Metadata?.DeletionTimestamp,
            DeletionGracePeriodSeconds = pod.Metadata?.DeletionGracePeriodSeconds,
        },
        Spec = pod.Spec,
    });

    public static bool DifferSemantically(V1Pod a, V1Pod b) => !string.Equals(Key(a), Key(b), StringComparison.Ordinal);
}
