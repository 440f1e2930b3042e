using System.Globalization;

namespace KubeletPS.Core.Stats;

public enum CgroupVersion
{
    /// <summary>One hierarchy per controller (cpuacct, memory…), possibly beside a unified mount (hybrid).</summary>
    V1,

    /// <summary>The unified hierarchy (cgroup2) at the root.</summary>
    V2,
}

/// <summary>CPU and memory of one cgroup, read at <see cref="Time"/>; a figure the kernel does not give is null.</summary>
public sealed record CgroupSample(
    DateTimeOffset Time,
    ulong? CpuUsageNanoseconds,
    ulong? MemoryUsageBytes,
    ulong? WorkingSetBytes,
    ulong? RssBytes,
    ulong? PageFaults,
    ulong? MajorPageFaults,
    ulong? MemoryLimitBytes);

/// <summary>
/// Reads a cgroup's CPU and memory figures as cadvisor does for kubelet. cgroup v1: cpuacct.usage
/// (from the cpuacct or cpu,cpuacct hierarchy), memory.usage_in_bytes, memory.limit_in_bytes and
/// memory.stat (total_inactive_file, total_rss, pgfault, pgmajfault). cgroup v2 (cgroup.controllers
/// at the root): cpu.stat usage_usec, memory.current, memory.max and memory.stat (inactive_file, anon,
/// pgfault, pgmajfault). The working set is usage − inactive file (never below 0), kubelet's rule.
/// The v2 root cgroup has no memory.current: there the usage is MemTotal − MemFree from /proc/meminfo,
/// as runc computes the root's.
/// </summary>
public sealed class CgroupStatsReader
{
    /// <summary>Limits above this are "no limit" (cadvisor's and containerd's isMemoryUnlimited).</summary>
    public const ulong UnlimitedMemory = 1UL << 62;

    private static readonly string[] CpuacctMounts = ["cpuacct", "cpu,cpuacct", "cpuacct,cpu"];

    private readonly string _root;
    private readonly string _procRoot;
    private readonly string? _cpuacctDir;
    private readonly string? _memoryDir;

    /// <param name="cgroupRoot">Where the cgroup file systems are mounted (/sys/fs/cgroup).</param>
    /// <param name="procRoot">The /proc to read meminfo from (tests use a fake one).</param>
    public CgroupStatsReader(string cgroupRoot = "/sys/fs/cgroup", string procRoot = "/proc")
    {
        _root = cgroupRoot;
        _procRoot = procRoot;
        Version = File.Exists(Path.Combine(cgroupRoot, "cgroup.controllers")) ? CgroupVersion.V2 : CgroupVersion.V1;
        if (Version == CgroupVersion.V1)
        {
            _cpuacctDir = CpuacctMounts.Select(d => Path.Combine(cgroupRoot, d))
                .FirstOrDefault(d => File.Exists(Path.Combine(d, "cpuacct.usage")));
            var memory = Path.Combine(cgroupRoot, "memory");
            _memoryDir = Directory.Exists(memory) ? memory : null;
        }
    }

    public CgroupVersion Version { get; }

    /// <summary>Whether the cgroup exists (in the memory hierarchy on v1, the unified one on v2).</summary>
    public bool Exists(string cgroupPath) => Version == CgroupVersion.V2
        ? Directory.Exists(Under(_root, cgroupPath))
        : _memoryDir is not null && Directory.Exists(Under(_memoryDir, cgroupPath));

    /// <summary>The figures of <paramref name="cgroupPath"/> ("/" is the root: the node); null when the cgroup does not exist.</summary>
    public CgroupSample? Read(string cgroupPath, DateTimeOffset now)
    {
        if (!Exists(cgroupPath)) return null;
        return Version == CgroupVersion.V2 ? ReadV2(Under(_root, cgroupPath), IsRoot(cgroupPath), now) : ReadV1(cgroupPath, now);
    }

    private CgroupSample ReadV1(string cgroupPath, DateTimeOffset now)
    {
        ulong? cpu = _cpuacctDir is null ? null : ReadNumber(Path.Combine(Under(_cpuacctDir, cgroupPath), "cpuacct.usage"));
        var memoryDir = Under(_memoryDir!, cgroupPath);
        var usage = ReadNumber(Path.Combine(memoryDir, "memory.usage_in_bytes"));
        var limit = ReadNumber(Path.Combine(memoryDir, "memory.limit_in_bytes"));
        var stat = ReadKeyValues(Path.Combine(memoryDir, "memory.stat"));
        return new CgroupSample(now, cpu, usage, WorkingSet(usage, stat.GetValueOrDefault("total_inactive_file")),
            stat.TryGetValue("total_rss", out var rss) ? rss : stat.GetValueOrDefault("rss"),
            Get(stat, "pgfault"), Get(stat, "pgmajfault"), limit is { } l && l < UnlimitedMemory ? l : null);
    }

    private CgroupSample ReadV2(string dir, bool root, DateTimeOffset now)
    {
        var cpuStat = ReadKeyValues(Path.Combine(dir, "cpu.stat"));
        ulong? cpu = cpuStat.TryGetValue("usage_usec", out var usec) ? usec * 1000 : null;
        var stat = ReadKeyValues(Path.Combine(dir, "memory.stat"));
        var usage = ReadNumber(Path.Combine(dir, "memory.current"));
        ulong? inactiveFile = Get(stat, "inactive_file");
        if (usage is null && root)
        {
            var meminfo = ReadMeminfo();
            if (meminfo.TryGetValue("MemTotal", out var total) && meminfo.TryGetValue("MemFree", out var free) && total >= free) usage = total - free;
            inactiveFile ??= Get(meminfo, "Inactive(file)");
        }
        var maxText = ReadText(Path.Combine(dir, "memory.max"));
        ulong? limit = maxText is null || maxText == "max" ? null
            : ulong.TryParse(maxText, NumberStyles.None, CultureInfo.InvariantCulture, out var max) && max < UnlimitedMemory ? max : null;
        return new CgroupSample(now, cpu, usage, WorkingSet(usage, inactiveFile), Get(stat, "anon"), Get(stat, "pgfault"), Get(stat, "pgmajfault"), limit);
    }

    /// <summary>Kubelet's working set: usage − inactive_file, 0 when inactive file pages exceed the usage.</summary>
    public static ulong? WorkingSet(ulong? usage, ulong? inactiveFile)
    {
        if (usage is not { } u) return null;
        var inactive = inactiveFile ?? 0;
        return inactive < u ? u - inactive : 0;
    }

    private Dictionary<string, ulong> ReadMeminfo()
    {
        var values = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var line in (ReadText(Path.Combine(_procRoot, "meminfo")) ?? "").Split('\n'))
        {
            var colon = line.IndexOf(':');
            if (colon < 0) continue;
            var parts = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0 || !ulong.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var value)) continue;
            values[line[..colon]] = parts.Length > 1 && parts[1] == "kB" ? value * 1024 : value;
        }
        return values;
    }

    private static ulong? Get(Dictionary<string, ulong> values, string key) => values.TryGetValue(key, out var v) ? v : null;

    private static bool IsRoot(string cgroupPath) => cgroupPath.Trim('/').Length == 0;

    private static string Under(string mount, string cgroupPath) => Path.Join(mount, cgroupPath.Trim('/'));

    private static string? ReadText(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    private static ulong? ReadNumber(string path) =>
        ReadText(path) is { } text && ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>A flat keyed file (memory.stat, cpu.stat): "key value" per line.</summary>
    internal static Dictionary<string, ulong> ReadKeyValues(string path)
    {
        var values = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var line in (ReadText(path) ?? "").Split('\n'))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var value)) values[parts[0]] = value;
        }
        return values;
    }
}
