using k8s.Models;
using KubeletPS.Core.Cm;
using KubeletPS.Core.Stats;

namespace KubeletPS.Core.Pods.Eviction;

/// <summary>
/// The eviction manager's ephemeral-storage limit checks (pkg/kubelet/eviction localStorageEviction, after the
/// emptyDir check): podEphemeralStorageLimitEviction — the pod's ephemeral storage (its containers' writable layers
/// and logs, its emptyDirs and etc-hosts, as the stats provider sums it) over the sum of its containers'
/// <c>limits.ephemeral-storage</c>; then containerEphemeralStorageLimitEviction — one container's logs plus, unless the
/// images have a file system of their own, its writable layer over its own limit. Pure over the stats provider's figures.
/// </summary>
public static class EphemeralStorageLimits
{
    public const string EphemeralStorage = "ephemeral-storage";

    /// <summary>Kubelet's podEphemeralStorageMessageFmt (the trailing space is kubelet's).</summary>
    public static string PodMessage(string limit) => $"Pod ephemeral local storage usage exceeds the total limit of containers {limit}. ";

    /// <summary>Kubelet's containerEphemeralStorageMessageFmt (%q: the limit in double quotes).</summary>
    public static string ContainerMessage(string container, string limit) => $"Container {container} exceeded its local ephemeral storage limit \"{limit}\". ";

    /// <summary>Whether a container of the pod sets limits.ephemeral-storage (the only pods these checks measure).</summary>
    public static bool HasLimit(V1Pod pod) =>
        (pod.Spec?.Containers ?? []).Any(c => c.Resources?.Limits?.TryGetValue(EphemeralStorage, out var q) == true && q.ToDecimal() != 0);

    /// <summary>The eviction a pod's ephemeral-storage use calls for (pod limit first, as kubelet); null when none.</summary>
    public static PodEvictionRequest? Check(V1Pod pod, PodStats stats, bool dedicatedImageFs)
    {
        ArgumentNullException.ThrowIfNull(pod);
        ArgumentNullException.ThrowIfNull(stats);
        var limits = (pod.Spec?.Containers ?? [])
            .Select(c => (c.Name, Limit: c.Resources?.Limits?.TryGetValue(EphemeralStorage, out var q) == true ? q : null))
            .Where(c => c.Limit is not null && c.Limit.ToDecimal() != 0)
            .ToDictionary(c => c.Name, c => c.Limit!, StringComparer.Ordinal);
        if (limits.Count == 0) return null;

        // kubelet's PodLimits: the containers' limits summed (init containers and overhead included).
        if (PodResources.PodLimits(pod).TryGetValue(EphemeralStorage, out var podLimit)
            && stats.EphemeralStorage?.UsedBytes is { } podUsed && (decimal)podUsed > podLimit)
        {
            var formatted = new ResourceQuantity(podLimit, 0, limits.Values.First().Format).ToString();
            return new PodEvictionRequest(pod, EmptyDirLimits.Reason, PodMessage(formatted), EvictionSignals.EphemeralPodFsLimit);
        }

        foreach (var container in stats.Containers)
        {
            if (!limits.TryGetValue(container.Name, out var limit)) continue;
            var used = (decimal)(container.Logs?.UsedBytes ?? 0) + (dedicatedImageFs ? 0 : (decimal)(container.Rootfs?.UsedBytes ?? 0));
            if (used > limit.ToDecimal())
                return new PodEvictionRequest(pod, EmptyDirLimits.Reason, ContainerMessage(container.Name, limit.ToString()), EvictionSignals.EphemeralContainerFsLimit);
        }
        return null;
    }
}
