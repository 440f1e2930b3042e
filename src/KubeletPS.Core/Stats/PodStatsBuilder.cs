using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Stats;

/// <summary>One running container of a pod and the stats the runtime gave for it.</summary>
public sealed record PodContainerSample(ContainerInfo Container, ContainerStatsInfo Stats, FsStats? Logs = null);

/// <summary>
/// Builds a pod's PodStats from runtime facts, as kubelet's CRI stats provider does
/// (listPodStatsPartiallyFromCRI): a ContainerStats per running container from ListContainerStats;
/// the pod's CPU and memory from its pod cgroup when it has one (cadvisor's pod cgroup in kubelet),
/// else the sum of its containers' (kubelet's addPodCPUMemoryStats without a pod cgroup); its
/// network from the sandbox's network namespace; ephemeral-storage as kubelet's makePodStorageStats
/// adds it up: the containers' writable layers and logs plus the pod's emptyDir volumes.
/// Pure: the caller reads cgroups, /proc and the runtime; tests give it tables.
/// </summary>
public static class PodStatsBuilder
{
    public static PodStats Build(
        PodSandboxInfo sandbox,
        IReadOnlyList<PodContainerSample> containers,
        CpuUsageCache cache,
        bool updateCpuUsage,
        CgroupSample? podCgroup = null,
        NetworkStats? network = null,
        IReadOnlyList<VolumeStats>? volumes = null,
        FsStats? imageFs = null,
        FsStats? nodeFs = null,
        bool cpuAndMemoryOnly = false)
    {
        var pod = new PodStats
        {
            PodRef = new PodReference { Name = sandbox.Name, Namespace = sandbox.Namespace, Uid = sandbox.Uid },
            // The summary API's pod start time is the sandbox's creation time.
            StartTime = sandbox.CreatedAt ?? DateTimeOffset.UnixEpoch,
        };
        foreach (var sample in containers.OrderBy(c => c.Container.Name, StringComparer.Ordinal))
        {
            pod.Containers.Add(BuildContainer(sample, cache, updateCpuUsage, cpuAndMemoryOnly ? null : imageFs));
        }

        if (podCgroup is not null)
        {
            var rate = cache.Rate("pod/" + sandbox.Id, StatsConversions.ToNanos(podCgroup.Time), podCgroup.CpuUsageNanoseconds, updateCpuUsage);
            pod.Cpu = StatsConversions.Cpu(podCgroup, rate);
            // Available only where both the limit and the working set are known.
            pod.Memory = podCgroup.MemoryUsageBytes is null ? null
                : StatsConversions.Memory(podCgroup, podCgroup.WorkingSetBytes is null ? null : podCgroup.MemoryLimitBytes);
        }
        else
        {
            foreach (var container in pod.Containers) AddToPod(pod, container);
        }

        if (cpuAndMemoryOnly) return pod;
        pod.Network = network;
        pod.VolumeStats = volumes is { Count: > 0 } ? volumes.ToList() : null;
        pod.EphemeralStorage = EphemeralStorage(pod, nodeFs);
        return pod;
    }

    public static ContainerStats BuildContainer(PodContainerSample sample, CpuUsageCache cache, bool updateCpuUsage, FsStats? imageFs)
    {
        var stats = sample.Stats;
        var now = DateTimeOffset.UtcNow;
        var result = new ContainerStats
        {
            Name = sample.Container.Labels.TryGetValue(KubeletLabels.ContainerName, out var name) && name.Length > 0 ? name : stats.Name,
            // The summary API's container start time is its creation time.
            StartTime = sample.Container.CreatedAt ?? DateTimeOffset.UnixEpoch,
        };
        if (stats.Cpu is { } cpu)
        {
            var rate = cache.Rate("container/" + stats.Id, cpu.TimestampNanos, cpu.UsageCoreNanoSeconds, updateCpuUsage);
            result.Cpu = new CpuStats { Time = StatsConversions.FromNanos(cpu.TimestampNanos), UsageCoreNanoSeconds = cpu.UsageCoreNanoSeconds, UsageNanoCores = rate };
        }
        else
        {
            result.Cpu = new CpuStats { Time = now, UsageCoreNanoSeconds = 0, UsageNanoCores = 0 };
        }
        result.Memory = stats.Memory is { } m
            ? new MemoryStats
            {
                Time = StatsConversions.FromNanos(m.TimestampNanos),
                WorkingSetBytes = m.WorkingSetBytes,
                UsageBytes = m.UsageBytes,
                RssBytes = m.RssBytes,
                PageFaults = m.PageFaults,
                MajorPageFaults = m.MajorPageFaults,
                // containerd writes 0 for a container without a memory limit, where kubelet leaves it out.
                AvailableBytes = m.AvailableBytes is > 0 ? m.AvailableBytes : null,
            }
            : new MemoryStats { Time = now, WorkingSetBytes = 0 };
        if (imageFs is null) return result;
        if (stats.WritableLayer is { } layer)
        {
            result.Rootfs = new FsStats
            {
                Time = layer.TimestampNanos > 0 ? StatsConversions.FromNanos(layer.TimestampNanos) : now,
                UsedBytes = layer.UsedBytes,
                InodesUsed = layer.InodesUsed,
            }.OnFilesystem(imageFs);
        }
        result.Logs = sample.Logs;
        return result;
    }

    /// <summary>kubelet's sum of a pod's container stats into the pod's, where no pod cgroup is read.</summary>
    private static void AddToPod(PodStats pod, ContainerStats container)
    {
        if (container.Cpu is { } cpu)
        {
            pod.Cpu ??= new CpuStats();
            pod.Cpu.Time = cpu.Time;
            pod.Cpu.UsageCoreNanoSeconds = (pod.Cpu.UsageCoreNanoSeconds ?? 0) + (cpu.UsageCoreNanoSeconds ?? 0);
            pod.Cpu.UsageNanoCores = (pod.Cpu.UsageNanoCores ?? 0) + (cpu.UsageNanoCores ?? 0);
        }
        if (container.Memory is { } memory)
        {
            pod.Memory ??= new MemoryStats();
            pod.Memory.Time = memory.Time;
            pod.Memory.AvailableBytes = (pod.Memory.AvailableBytes ?? 0) + (memory.AvailableBytes ?? 0);
            pod.Memory.UsageBytes = (pod.Memory.UsageBytes ?? 0) + (memory.UsageBytes ?? 0);
            pod.Memory.WorkingSetBytes = (pod.Memory.WorkingSetBytes ?? 0) + (memory.WorkingSetBytes ?? 0);
            pod.Memory.RssBytes = (pod.Memory.RssBytes ?? 0) + (memory.RssBytes ?? 0);
            pod.Memory.PageFaults = (pod.Memory.PageFaults ?? 0) + (memory.PageFaults ?? 0);
            pod.Memory.MajorPageFaults = (pod.Memory.MajorPageFaults ?? 0) + (memory.MajorPageFaults ?? 0);
        }
    }

    /// <summary>kubelet's makePodStorageStats: writable layers + logs + emptyDir volumes, against the node file system's capacity.</summary>
    private static FsStats? EphemeralStorage(PodStats pod, FsStats? nodeFs)
    {
        if (nodeFs is null) return null;
        ulong used = 0, inodes = 0;
        foreach (var c in pod.Containers)
        {
            used += (c.Rootfs?.UsedBytes ?? 0) + (c.Logs?.UsedBytes ?? 0);
            inodes += (c.Rootfs?.InodesUsed ?? 0) + (c.Logs?.InodesUsed ?? 0);
        }
        foreach (var v in pod.VolumeStats ?? [])
        {
            if (v.Name is null) continue;
            used += v.UsedBytes ?? 0;
            inodes += v.InodesUsed ?? 0;
        }
        return new FsStats { Time = DateTimeOffset.UtcNow, UsedBytes = used, InodesUsed = inodes }.OnFilesystem(nodeFs);
    }
}
