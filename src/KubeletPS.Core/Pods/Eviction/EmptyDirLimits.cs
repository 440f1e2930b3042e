using k8s.Models;
using KubeletPS.Core.Pods.Manager;
using KubeletPS.Core.Pods.Volumes;

namespace KubeletPS.Core.Pods.Eviction;

/// <summary>A pod to evict, what its status and Evicted event say, and the local storage signal it is evicted for (kubelet_evictions' eviction_signal).</summary>
public sealed record PodEvictionRequest(V1Pod Pod, string Reason, string Message, string Signal = EvictionSignals.EmptyDirFsLimit);

/// <summary>
/// The eviction manager's local storage check for emptyDir volumes (pkg/kubelet/eviction
/// emptyDirLimitEviction): each emptyDir with a sizeLimit is measured — on disk, the blocks
/// allocated under it (symlinks not followed, no other file system crossed); medium Memory, the
/// tmpfs's used blocks — and a pod with one over its limit is to be evicted with kubelet's message.
/// Critical pods (static and mirror pods, system priorities) are left alone, as kubelet's evictPod refuses them.
/// </summary>
public sealed class EmptyDirLimits(PodVolumes volumes, IKubeletLog log)
{
    /// <summary>Kubelet's eviction monitoring interval.</summary>
    public static readonly TimeSpan DefaultMonitoringPeriod = TimeSpan.FromSeconds(10);

    public const string Reason = "Evicted";

    /// <summary>kubelet's system-cluster-critical priority: pods at or above it are critical.</summary>
    public const int SystemCriticalPriority = 2_000_000_000;

    /// <summary>Kubelet's emptyDirMessageFmt (the trailing space is kubelet's).</summary>
    public static string Message(string volume, string sizeLimit) => $"Usage of EmptyDir volume \"{volume}\" exceeds the limit \"{sizeLimit}\". ";

    /// <summary>The pods (of <paramref name="pods"/>, the running ones) that an emptyDir over its sizeLimit evicts.</summary>
    public IReadOnlyList<PodEvictionRequest> Check(IEnumerable<V1Pod> pods)
    {
        var evict = new List<PodEvictionRequest>();
        foreach (var pod in pods)
        {
            if (pod.Status?.Phase is "Succeeded" or "Failed" || IsCriticalPod(pod) || !HasSizeLimit(pod)) continue;
            foreach (var volume in pod.Spec.Volumes ?? [])
            {
                if (volume.EmptyDir is not { SizeLimit: { } limit } emptyDir) continue;
                var path = volumes.EmptyDirPath(pod.Metadata.Uid, volume.Name);
                if (!Directory.Exists(path)) continue;
                var used = MeasureUsage(path, emptyDir.Medium == "Memory");
                if (used is not { } bytes || bytes <= Cm.QuantityValues.Value(limit)) continue;
                var message = Message(volume.Name, limit.ToString());
                log.Info($"pod {pod.Namespace()}/{pod.Name()}: emptyDir \"{volume.Name}\" uses {bytes} bytes, over its sizeLimit {limit}; evicting it.");
                evict.Add(new PodEvictionRequest(pod, Reason, message));
                break;
            }
        }
        return evict;
    }

    /// <summary>
    /// An emptyDir's usage as kubelet measures it: medium Memory, the tmpfs's used blocks; on disk,
    /// the blocks allocated under it (the stats provider reports volumes with the same figure).
    /// </summary>
    public static long? MeasureUsage(string path, bool memoryMedium) =>
        memoryMedium ? FileSystemStats.Read(path)?.UsedBytes : FileSystemStats.DiskUsage(path);

    /// <summary>Whether the pod has an emptyDir with a sizeLimit (the only pods the check measures).</summary>
    public static bool HasSizeLimit(V1Pod pod) => (pod.Spec.Volumes ?? []).Any(v => v.EmptyDir?.SizeLimit is not null);

    /// <summary>kubelettypes.IsCriticalPod: a static or mirror pod, or one of a system-critical priority.</summary>
    public static bool IsCriticalPod(V1Pod pod) =>
        MirrorPods.IsStaticPod(pod) || MirrorPods.IsMirrorPod(pod) || pod.Spec.Priority >= SystemCriticalPriority;
}
