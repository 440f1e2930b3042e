using k8s.Models;
using KubeletPS.Core.Pods.Config;

namespace KubeletPS.Core.Pods.Manager;

/// <summary>Kubelet's tests on pods from its sources (pkg/kubelet/types/pod_update.go).</summary>
public static class MirrorPods
{
    /// <summary>A mirror pod: the API's copy of a static pod, carrying kubernetes.io/config.mirror. It is never run.</summary>
    public static bool IsMirrorPod(V1Pod pod) => pod.Metadata?.Annotations?.ContainsKey(PodAnnotations.ConfigMirror) == true;

    /// <summary>Why a static pod's volume or env cannot come from the API (the Kubernetes docs' rule, which NodeRestriction enforces on mirror pods).</summary>
    public const string StaticPodApiObjectsRefused = "a static pod may not refer to API objects (configmaps, secrets, service accounts)";

    /// <summary>A static pod: from a source other than the API server (the file source).</summary>
    public static bool IsStaticPod(V1Pod pod) =>
        pod.Metadata?.Annotations?.TryGetValue(PodAnnotations.ConfigSource, out var source) == true && source != "api";

    /// <summary>The static pod's config hash (kubernetes.io/config.hash), which its mirror pod carries as config.mirror.</summary>
    public static string? ConfigHash(V1Pod pod) =>
        pod.Metadata?.Annotations?.TryGetValue(PodAnnotations.ConfigHash, out var hash) == true ? hash : pod.Metadata?.Uid;
}
