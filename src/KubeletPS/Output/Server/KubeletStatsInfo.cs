using System.Globalization;
using KubeletPS.Core.Stats;

namespace KubeletPS.Output;

/// <summary>
/// The node's figures from the kubelet's summary (as /stats/summary gives them), with the machine's
/// capacity beside them so that CPU% and MEMORY% read as in kubectl top node.
/// </summary>
public sealed class KubeletNodeStats
{
    internal KubeletNodeStats(NodeStats node, int cpuCapacity, long memoryCapacityBytes)
    {
        NodeName = node.NodeName;
        StartTime = node.StartTime;
        Time = node.Cpu?.Time ?? node.Memory?.Time;
        (CpuUsageNanoCores, CpuUsageCoreNanoSeconds) = SummaryFigures.Cpu(node.Cpu);
        CpuCapacity = cpuCapacity;
        (MemoryWorkingSetBytes, MemoryUsageBytes, MemoryRssBytes) = SummaryFigures.Memory(node.Memory);
        MemoryAvailableBytes = node.Memory?.AvailableBytes;
        MemoryPageFaults = node.Memory?.PageFaults;
        MemoryMajorPageFaults = node.Memory?.MajorPageFaults;
        MemoryCapacityBytes = memoryCapacityBytes;
        (FsUsedBytes, FsCapacityBytes, FsAvailableBytes) = SummaryFigures.Fs(node.Fs);
        FsInodes = node.Fs?.Inodes;
        FsInodesFree = node.Fs?.InodesFree;
        (ImageFsUsedBytes, ImageFsCapacityBytes, ImageFsAvailableBytes) = SummaryFigures.Fs(node.Runtime?.ImageFs);
        NetworkInterface = node.Network?.Name;
        RxBytes = node.Network?.RxBytes;
        TxBytes = node.Network?.TxBytes;
        MaxPid = node.Rlimit?.MaxPid;
        Processes = node.Rlimit?.NumOfRunningProcesses;
    }

    public string NodeName { get; }

    /// <summary>When the machine booted (the summary's node start time).</summary>
    public DateTimeOffset StartTime { get; }

    /// <summary>When the CPU and memory figures were read.</summary>
    public DateTimeOffset? Time { get; }

    /// <summary>CPU in use, in billionths of a core, over the sample interval; empty with a single sample.</summary>
    public ulong? CpuUsageNanoCores { get; }

    /// <summary>CPU time used since boot, in core-nanoseconds.</summary>
    public ulong? CpuUsageCoreNanoSeconds { get; }

    /// <summary>CPUs of the machine (the node's cpu capacity).</summary>
    public int CpuCapacity { get; }

    /// <summary>Memory in use that cannot be reclaimed at once: usage − inactive file pages (what kubectl top and the eviction manager use).</summary>
    public ulong? MemoryWorkingSetBytes { get; }

    public ulong? MemoryUsageBytes { get; }

    /// <summary>Memory capacity − working set: what memory.available eviction thresholds compare against.</summary>
    public ulong? MemoryAvailableBytes { get; }

    public ulong? MemoryRssBytes { get; }
    public ulong? MemoryPageFaults { get; }
    public ulong? MemoryMajorPageFaults { get; }
    public long MemoryCapacityBytes { get; }

    /// <summary>The node file system (the kubelet root directory's).</summary>
    public ulong? FsCapacityBytes { get; }
    public ulong? FsAvailableBytes { get; }
    public ulong? FsUsedBytes { get; }
    public ulong? FsInodes { get; }
    public ulong? FsInodesFree { get; }

    /// <summary>Bytes the runtime's images take (CRI ImageFsInfo), and the capacity of the file system they are on.</summary>
    public ulong? ImageFsUsedBytes { get; }
    public ulong? ImageFsCapacityBytes { get; }
    public ulong? ImageFsAvailableBytes { get; }

    /// <summary>The interface the summary reports inline (eth0, else the first of the host's).</summary>
    public string? NetworkInterface { get; }
    public ulong? RxBytes { get; }
    public ulong? TxBytes { get; }
    public long? MaxPid { get; }
    public long? Processes { get; }

    /// <summary>Percent of <paramref name="capacity"/>, as kubectl top prints it; empty when unknown.</summary>
    public static string Percent(double? used, double capacity) =>
        used is { } u && capacity > 0 ? ((int)(u / capacity * 100)).ToString(CultureInfo.InvariantCulture) + "%" : "<unknown>";

    /// <summary>CPU as kubectl top prints it: millicores ("250m").</summary>
    public static string FormatCpu(ulong? nanoCores) =>
        nanoCores is { } n ? (n / 1_000_000).ToString(CultureInfo.InvariantCulture) + "m" : "<unknown>";

    /// <summary>Memory as kubectl top prints it: mebibytes ("64Mi").</summary>
    public static string FormatMemory(ulong? bytes) =>
        bytes is { } b ? (b / (1024 * 1024)).ToString(CultureInfo.InvariantCulture) + "Mi" : "<unknown>";

    public override string ToString() => NodeName;
}

/// <summary>One pod's figures from the summary, with its containers'.</summary>
public sealed class KubeletPodStats
{
    internal KubeletPodStats(PodStats pod)
    {
        Name = pod.PodRef.Name;
        Namespace = pod.PodRef.Namespace;
        Uid = pod.PodRef.Uid;
        StartTime = pod.StartTime;
        (CpuUsageNanoCores, CpuUsageCoreNanoSeconds) = SummaryFigures.Cpu(pod.Cpu);
        (MemoryWorkingSetBytes, MemoryUsageBytes, MemoryRssBytes) = SummaryFigures.Memory(pod.Memory);
        NetworkInterface = pod.Network?.Name;
        RxBytes = pod.Network?.RxBytes;
        TxBytes = pod.Network?.TxBytes;
        EphemeralStorageUsedBytes = pod.EphemeralStorage?.UsedBytes;
        Volumes = (pod.VolumeStats ?? []).Select(v => new KubeletVolumeStats(v)).ToArray();
        Containers = pod.Containers.Select(c => new KubeletContainerStats(pod, c)).ToArray();
    }

    public string Name { get; }
    public string Namespace { get; }
    public string Uid { get; }

    /// <summary>When the pod's sandbox was created.</summary>
    public DateTimeOffset StartTime { get; }

    public ulong? CpuUsageNanoCores { get; }
    public ulong? CpuUsageCoreNanoSeconds { get; }
    public ulong? MemoryWorkingSetBytes { get; }
    public ulong? MemoryUsageBytes { get; }
    public ulong? MemoryRssBytes { get; }
    public string? NetworkInterface { get; }
    public ulong? RxBytes { get; }
    public ulong? TxBytes { get; }

    /// <summary>Writable layers + logs + emptyDir volumes (kubelet's ephemeral-storage, what ephemeral-storage limits count).</summary>
    public ulong? EphemeralStorageUsedBytes { get; }

    public KubeletVolumeStats[] Volumes { get; }
    public KubeletContainerStats[] Containers { get; }

    public override string ToString() => $"{Namespace}/{Name}";
}

/// <summary>One running container's figures from the summary.</summary>
public sealed class KubeletContainerStats
{
    internal KubeletContainerStats(PodStats pod, ContainerStats container)
    {
        PodName = pod.PodRef.Name;
        Namespace = pod.PodRef.Namespace;
        Name = container.Name;
        StartTime = container.StartTime;
        (CpuUsageNanoCores, CpuUsageCoreNanoSeconds) = SummaryFigures.Cpu(container.Cpu);
        (MemoryWorkingSetBytes, MemoryUsageBytes, MemoryRssBytes) = SummaryFigures.Memory(container.Memory);
        RootfsUsedBytes = container.Rootfs?.UsedBytes;
        LogsUsedBytes = container.Logs?.UsedBytes;
    }

    public string PodName { get; }
    public string Namespace { get; }
    public string Name { get; }

    /// <summary>When the container was created.</summary>
    public DateTimeOffset StartTime { get; }

    public ulong? CpuUsageNanoCores { get; }
    public ulong? CpuUsageCoreNanoSeconds { get; }
    public ulong? MemoryWorkingSetBytes { get; }
    public ulong? MemoryUsageBytes { get; }
    public ulong? MemoryRssBytes { get; }

    /// <summary>Bytes in the container's writable layer.</summary>
    public ulong? RootfsUsedBytes { get; }

    /// <summary>Bytes of its log files (LOGDIR/NAME).</summary>
    public ulong? LogsUsedBytes { get; }

    public override string ToString() => $"{Namespace}/{PodName}/{Name}";
}

/// <summary>One of a pod's emptyDir volumes: bytes used (as the eviction manager measures them) and its file system.</summary>
public sealed class KubeletVolumeStats
{
    internal KubeletVolumeStats(VolumeStats volume)
    {
        Name = volume.Name ?? "";
        (UsedBytes, CapacityBytes, AvailableBytes) = SummaryFigures.Fs(volume);
    }

    public string Name { get; }
    public ulong? UsedBytes { get; }
    public ulong? CapacityBytes { get; }
    public ulong? AvailableBytes { get; }

    public override string ToString() => $"{Name}={UsedBytes}";
}

/// <summary>
/// The figure groups the summary gives at more than one level (node, pod, container, volume), read the same way
/// everywhere: each is empty when the summary has no such group.
/// </summary>
internal static class SummaryFigures
{
    public static (ulong? UsageNanoCores, ulong? UsageCoreNanoSeconds) Cpu(CpuStats? cpu) =>
        (cpu?.UsageNanoCores, cpu?.UsageCoreNanoSeconds);

    public static (ulong? WorkingSetBytes, ulong? UsageBytes, ulong? RssBytes) Memory(MemoryStats? memory) =>
        (memory?.WorkingSetBytes, memory?.UsageBytes, memory?.RssBytes);

    public static (ulong? UsedBytes, ulong? CapacityBytes, ulong? AvailableBytes) Fs(FsStats? fs) =>
        (fs?.UsedBytes, fs?.CapacityBytes, fs?.AvailableBytes);
}
