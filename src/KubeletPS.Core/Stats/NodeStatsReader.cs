using System.Globalization;
using KubeletPS.Core.Node;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Stats;

/// <summary>
/// The node's own figures, as kubelet reads cadvisor's root container: CPU and memory of the root
/// cgroup (available = MemTotal − working set, cadvisor's limit for the root), the host's
/// interfaces from /proc/net/dev, nodefs by statfs of the kubelet root directory, rlimit from
/// pid_max and the process count; the start time is the boot time (btime in /proc/stat).
/// </summary>
public sealed class NodeStatsReader(CgroupStatsReader cgroups, string procRoot = "/proc")
{
    public CgroupSample? ReadRootCgroup(DateTimeOffset now) => cgroups.Read("/", now);

    public static CpuStats? Cpu(CgroupSample? root, ulong? usageNanoCores) => StatsConversions.Cpu(root, usageNanoCores);

    public static MemoryStats? Memory(CgroupSample? root, long memoryCapacityBytes) =>
        root?.MemoryUsageBytes is null ? null : StatsConversions.Memory(root, (ulong)Math.Max(0, memoryCapacityBytes));

    /// <summary>The host's interfaces except loopback, veth pairs and bridges (cadvisor's filter), eth0 or the first one inline.</summary>
    public NetworkStats? Network(DateTimeOffset now, string sysClassNet = "/sys/class/net")
    {
        var interfaces = NetDevReader.Read(Path.Combine(procRoot, "net", "dev"))
            .Where(i => !i.Name.StartsWith("veth", StringComparison.Ordinal) && !Directory.Exists(Path.Combine(sysClassNet, i.Name, "bridge")))
            .ToList();
        return StatsConversions.ToNetworkStats(now, interfaces);
    }

    /// <summary>statfs of the file system holding <paramref name="path"/>, with the bytes in use on it.</summary>
    public static FsStats? Filesystem(string path, DateTimeOffset now)
    {
        var existing = path;
        while (!Directory.Exists(existing))
        {
            var parent = Path.GetDirectoryName(existing);
            if (parent is null) return null;
            existing = parent;
        }
        var (capacity, available, inodes, inodesFree) = MachineInfoReader.StatFilesystem(existing);
        var free = Pods.Volumes.FileSystemStats.Read(existing);
        return new FsStats
        {
            Time = now,
            CapacityBytes = (ulong)capacity,
            AvailableBytes = (ulong)available,
            UsedBytes = free is null ? null : (ulong)Math.Max(0, free.UsedBytes),
            Inodes = (ulong)inodes,
            InodesFree = (ulong)inodesFree,
            InodesUsed = (ulong)Math.Max(0, inodes - inodesFree),
        };
    }

    public static RlimitStats Rlimit(DateTimeOffset now, MachineInfo machine) => new()
    {
        Time = now,
        MaxPid = machine.PidMax,
        NumOfRunningProcesses = machine.RunningProcesses,
    };

    /// <summary>When the machine booted (btime of /proc/stat); the Unix epoch when unknown.</summary>
    public DateTimeOffset BootTime()
    {
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(procRoot, "stat")))
            {
                if (line.StartsWith("btime ", StringComparison.Ordinal)
                    && long.TryParse(line.AsSpan(6).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
                {
                    return DateTimeOffset.FromUnixTimeSeconds(seconds);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return DateTimeOffset.UnixEpoch;
    }
}

/// <summary>Conversions from runtime samples to Summary API types shared by the node and pod builders.</summary>
public static class StatsConversions
{
    public static DateTimeOffset FromNanos(long nanos) => DateTimeOffset.UnixEpoch.AddTicks(nanos / 100);

    public static long ToNanos(DateTimeOffset time) => (time - DateTimeOffset.UnixEpoch).Ticks * 100;

    /// <summary>A cgroup's CPU with the rate computed for it; null when the cgroup gave no usage.</summary>
    public static CpuStats? Cpu(CgroupSample? sample, ulong? usageNanoCores) => sample?.CpuUsageNanoseconds is { } cpu
        ? new CpuStats { Time = sample.Time, UsageCoreNanoSeconds = cpu, UsageNanoCores = usageNanoCores }
        : null;

    /// <summary>A cgroup's memory; available is <paramref name="limitBytes"/> minus the working set (never below 0), null without a limit.</summary>
    public static MemoryStats Memory(CgroupSample sample, ulong? limitBytes)
    {
        var workingSet = sample.WorkingSetBytes ?? 0;
        return new MemoryStats
        {
            Time = sample.Time,
            UsageBytes = sample.MemoryUsageBytes,
            WorkingSetBytes = sample.WorkingSetBytes,
            AvailableBytes = limitBytes is { } limit ? (limit > workingSet ? limit - workingSet : 0) : null,
            RssBytes = sample.RssBytes,
            PageFaults = sample.PageFaults,
            MajorPageFaults = sample.MajorPageFaults,
        };
    }

    /// <summary>
    /// Gives a usage measured on a file system (a volume, a log directory, a writable layer) that file system's
    /// capacity, free space and inodes; all unknown when <paramref name="filesystem"/> is null.
    /// </summary>
    public static T OnFilesystem<T>(this T usage, FsStats? filesystem) where T : FsStats
    {
        usage.AvailableBytes = filesystem?.AvailableBytes;
        usage.CapacityBytes = filesystem?.CapacityBytes;
        usage.Inodes = filesystem?.Inodes;
        usage.InodesFree = filesystem?.InodesFree;
        return usage;
    }

    /// <summary>NetworkStats with the default interface (eth0, else the first) inline and every interface listed; null when there is none.</summary>
    public static NetworkStats? ToNetworkStats(DateTimeOffset time, IReadOnlyList<NetworkInterfaceSample> interfaces)
    {
        if (interfaces.Count == 0) return null;
        var primary = interfaces.FirstOrDefault(i => i.Name == NetDevReader.DefaultInterfaceName) ?? interfaces[0];
        return new NetworkStats
        {
            Time = time,
            Name = primary.Name,
            RxBytes = primary.RxBytes,
            RxErrors = primary.RxErrors,
            TxBytes = primary.TxBytes,
            TxErrors = primary.TxErrors,
            Interfaces = interfaces.Select(i => new InterfaceStats { Name = i.Name, RxBytes = i.RxBytes, RxErrors = i.RxErrors, TxBytes = i.TxBytes, TxErrors = i.TxErrors }).ToList(),
        };
    }
}
