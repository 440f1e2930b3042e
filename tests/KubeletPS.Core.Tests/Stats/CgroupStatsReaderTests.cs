using KubeletPS.Core.Stats;

namespace KubeletPS.Core.Tests.Stats;

/// <summary>The cgroup readers on fake cgroup trees: v1 (hybrid layout, as this machine), v2, and the v2 root from /proc/meminfo.</summary>
public sealed class CgroupStatsReaderTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kps-cgroup-" + Guid.NewGuid().ToString("N")[..8]);
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private void Write(string relative, string text)
    {
        var path = Path.Combine(_dir, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    [Theory]
    [InlineData("cpuacct")]
    [InlineData("cpu,cpuacct")]
    public void V1_ReadsCpuacctAndMemoryHierarchies(string cpuMount)
    {
        Write("unified/cgroup.procs", "");
        Write($"{cpuMount}/cpuacct.usage", "11569659450152\n");
        Write($"{cpuMount}/k8s.io/abc/cpuacct.usage", "2500000000\n");
        Write("memory/memory.usage_in_bytes", "697249792\n");
        Write("memory/memory.limit_in_bytes", "9223372036854771712\n");
        Write("memory/memory.stat", "cache 9297920\nrss 11653120\npgfault 133335\npgmajfault 7\ntotal_rss 21204992\ntotal_inactive_file 290603008\n");
        Write("memory/k8s.io/abc/memory.usage_in_bytes", "60000000\n");
        Write("memory/k8s.io/abc/memory.limit_in_bytes", "104857600\n");
        Write("memory/k8s.io/abc/memory.stat", "rss 100\npgfault 5\npgmajfault 0\ntotal_rss 52428800\ntotal_inactive_file 4000000\n");

        var reader = new CgroupStatsReader(_dir, Path.Combine(_dir, "proc"));
        Assert.Equal(CgroupVersion.V1, reader.Version);

        var root = reader.Read("/", Now)!;
        Assert.Equal(11569659450152UL, root.CpuUsageNanoseconds);
        Assert.Equal(697249792UL, root.MemoryUsageBytes);
        Assert.Equal(697249792UL - 290603008UL, root.WorkingSetBytes);
        Assert.Equal(21204992UL, root.RssBytes);
        Assert.Equal(133335UL, root.PageFaults);
        Assert.Equal(7UL, root.MajorPageFaults);
        Assert.Null(root.MemoryLimitBytes); // 2^63 rounded to a page: no limit

        var container = reader.Read("/k8s.io/abc", Now)!;
        Assert.Equal(2500000000UL, container.CpuUsageNanoseconds);
        Assert.Equal(56000000UL, container.WorkingSetBytes);
        Assert.Equal(52428800UL, container.RssBytes);
        Assert.Equal(104857600UL, container.MemoryLimitBytes);
        Assert.Null(reader.Read("/k8s.io/absent", Now));
    }

    [Fact]
    public void V2_ReadsCpuStatMemoryCurrentAndMemoryStat()
    {
        Write("cgroup.controllers", "cpu memory pids\n");
        Write("kubepods.slice/pod1/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n");
        Write("kubepods.slice/pod1/memory.current", "209715200\n");
        Write("kubepods.slice/pod1/memory.max", "max\n");
        Write("kubepods.slice/pod1/memory.stat", "anon 150000000\nfile 50000000\ninactive_file 30000000\npgfault 42\npgmajfault 2\n");
        Write("kubepods.slice/pod2/memory.current", "1000\n");
        Write("kubepods.slice/pod2/memory.max", "536870912\n");
        Write("kubepods.slice/pod2/memory.stat", "anon 900\ninactive_file 5000\n");

        var reader = new CgroupStatsReader(_dir, Path.Combine(_dir, "proc"));
        Assert.Equal(CgroupVersion.V2, reader.Version);

        var pod = reader.Read("/kubepods.slice/pod1", Now)!;
        Assert.Equal(1500000000UL, pod.CpuUsageNanoseconds);
        Assert.Equal(209715200UL, pod.MemoryUsageBytes);
        Assert.Equal(209715200UL - 30000000UL, pod.WorkingSetBytes);
        Assert.Equal(150000000UL, pod.RssBytes);
        Assert.Equal(42UL, pod.PageFaults);
        Assert.Equal(2UL, pod.MajorPageFaults);
        Assert.Null(pod.MemoryLimitBytes);

        // More inactive file pages than usage (a race in the kernel's accounting): the working set is 0, not a wrapped number.
        var other = reader.Read("/kubepods.slice/pod2", Now)!;
        Assert.Equal(0UL, other.WorkingSetBytes);
        Assert.Equal(536870912UL, other.MemoryLimitBytes);
        Assert.Null(other.CpuUsageNanoseconds);
    }

    [Fact]
    public void V2_Root_TakesTheUsageFromMeminfo()
    {
        Write("cgroup.controllers", "cpu memory\n");
        Write("cpu.stat", "usage_usec 99000000\n");
        Write("proc/meminfo", "MemTotal:       24684000 kB\nMemFree:        20000000 kB\nInactive(file):   1000000 kB\n");

        var root = new CgroupStatsReader(_dir, Path.Combine(_dir, "proc")).Read("/", Now)!;

        Assert.Equal(99000000000UL, root.CpuUsageNanoseconds);
        Assert.Equal((24684000UL - 20000000UL) * 1024, root.MemoryUsageBytes);
        Assert.Equal((24684000UL - 20000000UL - 1000000UL) * 1024, root.WorkingSetBytes);
    }

    [Theory]
    [InlineData(100UL, 30UL, 70UL)]
    [InlineData(100UL, 100UL, 0UL)]
    [InlineData(100UL, 150UL, 0UL)]
    [InlineData(100UL, null, 100UL)]
    public void WorkingSet_IsUsageLessInactiveFile(ulong usage, ulong? inactive, ulong expected) =>
        Assert.Equal(expected, CgroupStatsReader.WorkingSet(usage, inactive));
}
