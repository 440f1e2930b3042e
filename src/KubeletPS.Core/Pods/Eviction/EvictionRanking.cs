using System.Globalization;
using k8s.Models;
using KubeletPS.Core.Pods.Admission;
using KubeletPS.Core.Stats;

namespace KubeletPS.Core.Pods.Eviction;

/// <summary>Which of a pod's file system figures a disk signal counts (kubelet's fsStatsType).</summary>
[Flags]
public enum FsStatsToMeasure
{
    None = 0,
    Root = 1,
    Logs = 2,
    LocalVolumes = 4,
}

/// <summary>
/// The order in which pods are evicted for a signal (pkg/kubelet/eviction/helpers.go): pods without stats
/// first; memory: usage above requests first, then lower priority, then the larger working set above the
/// request; disk: the same with ephemeral storage or inodes; PIDs: lower priority, then more processes.
/// The sort is stable, so pods equal on every key keep the order they were given in.
/// </summary>
public static class EvictionRanking
{
    /// <summary>Kubelet's buildSignalToRankFunc: the ranking of <paramref name="signal"/>, given where the images live.</summary>
    public static IReadOnlyList<V1Pod> Rank(string signal, bool dedicatedImageFs, IEnumerable<V1Pod> pods, IReadOnlyDictionary<string, PodStats> stats)
    {
        var all = FsStatsToMeasure.Root | FsStatsToMeasure.Logs | FsStatsToMeasure.LocalVolumes;
        return signal switch
        {
            EvictionSignals.MemoryAvailable or EvictionSignals.AllocatableMemoryAvailable => RankMemoryPressure(pods, stats),
            EvictionSignals.PidAvailable => RankPidPressure(pods, stats),
            EvictionSignals.NodeFsAvailable => RankDiskPressure(pods, stats, dedicatedImageFs ? FsStatsToMeasure.Logs | FsStatsToMeasure.LocalVolumes : all, "ephemeral-storage"),
            EvictionSignals.NodeFsInodesFree => RankDiskPressure(pods, stats, dedicatedImageFs ? FsStatsToMeasure.Logs | FsStatsToMeasure.LocalVolumes : all, EvictionSignals.ResourceInodes),
            EvictionSignals.ImageFsAvailable => RankDiskPressure(pods, stats, dedicatedImageFs ? FsStatsToMeasure.Root : all, "ephemeral-storage"),
            EvictionSignals.ImageFsInodesFree => RankDiskPressure(pods, stats, dedicatedImageFs ? FsStatsToMeasure.Root : all, EvictionSignals.ResourceInodes),
            _ => throw new ArgumentException($"no ranking for eviction signal {signal}", nameof(signal)),
        };
    }

    /// <summary>rankMemoryPressure: exceeds its memory request, priority, memory usage above the request.</summary>
    public static IReadOnlyList<V1Pod> RankMemoryPressure(IEnumerable<V1Pod> pods, IReadOnlyDictionary<string, PodStats> stats) =>
        Order(pods, stats, (a, b) =>
        {
            var exceeds = CmpBool(MemoryUsage(a.Stats) > MemoryRequest(a.Pod), MemoryUsage(b.Stats) > MemoryRequest(b.Pod));
            if (exceeds != 0) return exceeds;
            var byPriority = Priority(a.Pod, b.Pod);
            if (byPriority != 0) return byPriority;
            return (MemoryUsage(b.Stats) - MemoryRequest(b.Pod)).CompareTo(MemoryUsage(a.Stats) - MemoryRequest(a.Pod));
        });

    /// <summary>rankPIDPressure: priority, then the larger process count.</summary>
    public static IReadOnlyList<V1Pod> RankPidPressure(IEnumerable<V1Pod> pods, IReadOnlyDictionary<string, PodStats> stats)
    {
        var list = pods.ToList();
        // kubelet's priority comes before its stats check here: pods without stats are only ordered among equal priorities.
        return list.Select((pod, index) => (pod, index)).OrderBy(p => p, Comparer<(V1Pod Pod, int Index)>.Create((x, y) =>
        {
            var byPriority = Priority(x.Pod, y.Pod);
            if (byPriority != 0) return byPriority;
            var found = (stats.TryGetValue(x.Pod.Metadata.Uid, out var xs), stats.TryGetValue(y.Pod.Metadata.Uid, out var ys));
            int result = found is (true, true) ? Processes(ys!).CompareTo(Processes(xs!)) : CmpBool(!found.Item1, !found.Item2);
            return result != 0 ? result : x.Index.CompareTo(y.Index);
        })).Select(p => p.pod).ToList();
    }

    /// <summary>rankDiskPressureFunc: exceeds its request of <paramref name="resource"/>, priority, usage above the ephemeral-storage request.</summary>
    public static IReadOnlyList<V1Pod> RankDiskPressure(IEnumerable<V1Pod> pods, IReadOnlyDictionary<string, PodStats> stats, FsStatsToMeasure measure, string resource) =>
        Order(pods, stats, (a, b) =>
        {
            var aUsage = DiskUsage(a.Pod, a.Stats, measure, resource);
            var bUsage = DiskUsage(b.Pod, b.Stats, measure, resource);
            var exceeds = CmpBool(aUsage > Request(a.Pod, resource), bUsage > Request(b.Pod, resource));
            if (exceeds != 0) return exceeds;
            var byPriority = Priority(a.Pod, b.Pod);
            if (byPriority != 0) return byPriority;
            // As kubelet's disk(): the ephemeral-storage request is subtracted for inodes too.
            return (bUsage - Request(b.Pod, "ephemeral-storage")).CompareTo(aUsage - Request(a.Pod, "ephemeral-storage"));
        });

    /// <summary>
    /// Sorts stably; a pod without stats goes before one with (the first answer of every memory and disk
    /// comparison in kubelet), and two without stats are ordered by priority alone.
    /// </summary>
    private static List<V1Pod> Order(IEnumerable<V1Pod> pods, IReadOnlyDictionary<string, PodStats> stats, Func<(V1Pod Pod, PodStats Stats), (V1Pod Pod, PodStats Stats), int> compare)
    {
        var items = pods.Select((pod, index) => (Pod: pod, Stats: stats.GetValueOrDefault(pod.Metadata.Uid), Index: index)).ToList();
        return items.OrderBy(i => i, Comparer<(V1Pod Pod, PodStats? Stats, int Index)>.Create((x, y) =>
        {
            int result = x.Stats is null && y.Stats is null ? Priority(x.Pod, y.Pod)
                : x.Stats is null || y.Stats is null ? CmpBool(x.Stats is null, y.Stats is null)
                : compare((x.Pod, x.Stats), (y.Pod, y.Stats));
            return result != 0 ? result : x.Index.CompareTo(y.Index);
        })).Select(i => i.Pod).ToList();
    }

    /// <summary>cmpBool: true before false.</summary>
    private static int CmpBool(bool a, bool b) => a == b ? 0 : a ? -1 : 1;

    /// <summary>Lower priority first.</summary>
    private static int Priority(V1Pod a, V1Pod b) => (a.Spec.Priority ?? 0).CompareTo(b.Spec.Priority ?? 0);

    public static long MemoryUsage(PodStats stats) => (long)(stats.Memory?.WorkingSetBytes ?? 0);

    private static long Processes(PodStats stats) => (long)(stats.ProcessStats?.ProcessCount ?? 0);

    private static long MemoryRequest(V1Pod pod) => PodAdmission.ComputeRequests(pod).MemoryBytes;

    private static long Request(V1Pod pod, string resource) => resource switch
    {
        "memory" => PodAdmission.ComputeRequests(pod).MemoryBytes,
        "ephemeral-storage" => PodAdmission.ComputeRequests(pod).EphemeralStorageBytes,
        _ => 0,
    };

    /// <summary>kubelet's podDiskUsage: containers' rootfs and logs and the pod's local volumes, in bytes or inodes.</summary>
    public static long DiskUsage(V1Pod pod, PodStats stats, FsStatsToMeasure measure, string resource)
    {
        var inodes = resource == EvictionSignals.ResourceInodes;
        long Of(FsStats? fs) => fs is null ? 0 : (long)((inodes ? fs.InodesUsed : fs.UsedBytes) ?? 0);
        long total = 0;
        foreach (var container in stats.Containers)
        {
            if (measure.HasFlag(FsStatsToMeasure.Root)) total += Of(container.Rootfs);
            if (measure.HasFlag(FsStatsToMeasure.Logs)) total += Of(container.Logs);
        }
        if (measure.HasFlag(FsStatsToMeasure.LocalVolumes))
        {
            var local = (pod.Spec.Volumes ?? []).Where(IsLocalVolume).Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
            total += (stats.VolumeStats ?? []).Where(v => v.Name is not null && local.Contains(v.Name)).Sum(Of);
        }
        return total;
    }

    /// <summary>kubelet's localVolumeNames: hostPath and the local ephemeral volumes (emptyDir not in memory, configMap, downwardAPI, gitRepo).</summary>
    private static bool IsLocalVolume(V1Volume v) =>
        v.HostPath is not null || v.GitRepo is not null || v.ConfigMap is not null || v.DownwardAPI is not null
        || (v.EmptyDir is not null && v.EmptyDir.Medium != "Memory");

    /// <summary>
    /// Kubelet's evictionMessage: "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. "
    /// then, for each container using more than its request, "Container x was using 200Mi, request is 0, has larger consumption of memory. ".
    /// </summary>
    public static string Message(string resource, V1Pod pod, EvictionObservations observations, IReadOnlyList<EvictionThreshold> thresholds)
    {
        var message = $"The node was low on resource: {resource}. ";
        var met = thresholds.FirstOrDefault(t => EvictionSignals.Resource(t.Signal) == resource);
        if (met is not null && observations.Signals.TryGetValue(met.Signal, out var observed))
            message += $"Threshold quantity: {Format(resource, met.Value.Resolve(observed.Capacity))}, available: {Format(resource, observed.Available)}. ";
        if (!observations.Pods.TryGetValue(pod.Metadata.Uid, out var stats)) return message;
        foreach (var containerStats in stats.Containers)
        {
            var container = pod.Spec.Containers.FirstOrDefault(c => c.Name == containerStats.Name);
            if (container is null) continue;
            long? usage = resource switch
            {
                "ephemeral-storage" when containerStats is { Rootfs.UsedBytes: { } root, Logs.UsedBytes: { } logs } => (long)(root + logs),
                "memory" when containerStats.Memory?.WorkingSetBytes is { } workingSet => (long)workingSet,
                _ => null,
            };
            var request = container.Resources?.Requests is { } requests && requests.TryGetValue(resource, out var q) ? (long)q.ToDecimal() : 0;
            if (usage is { } used && used > request)
                message += $"Container {container.Name} was using {Format(resource, used)}, request is {Format(resource, request)}, has larger consumption of {resource}. ";
        }
        return message;
    }

    /// <summary>A quantity as resource.Quantity prints it: binary suffixes for bytes, plain numbers for inodes and pids.</summary>
    public static string Format(string resource, long value) =>
        resource is "memory" or "ephemeral-storage"
            ? new ResourceQuantity(value, 0, ResourceQuantity.SuffixFormat.BinarySI).ToString()
            : value.ToString(CultureInfo.InvariantCulture);
}
