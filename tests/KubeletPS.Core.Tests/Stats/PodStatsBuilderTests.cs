using KubeletPS.Core.Runtime;
using KubeletPS.Core.Stats;

namespace KubeletPS.Core.Tests.Stats;

public sealed class PodStatsBuilderTests
{
    private const long Second = 1_000_000_000;
    private static readonly DateTimeOffset Created = new(2026, 12, 1, 11, 0, 0, TimeSpan.Zero);

    private static PodSandboxInfo Sandbox(string id = "sb1") =>
        new(id, "web", "default", "uid-1", 0, PodSandboxState.Ready, Created, new Dictionary<string, string>(), new Dictionary<string, string>(), "");

    private static PodContainerSample Sample(string id, string name, long t, ulong cpu, ulong workingSet, ulong usage) => new(
        new ContainerInfo(id, "sb1", name, 0, "busybox", "sha256:1", ContainerState.Running, Created.AddSeconds(1),
            new Dictionary<string, string> { ["io.kubernetes.container.name"] = name }, new Dictionary<string, string>()),
        new ContainerStatsInfo(id, name, 0, new Dictionary<string, string>(), new CpuUsageSample(t, cpu),
            new MemoryUsageSample(t, workingSet, AvailableBytes: 0, UsageBytes: usage, RssBytes: workingSet / 2, PageFaults: 3, MajorPageFaults: 1), null));

    [Fact]
    public void WithoutAPodCgroup_ThePodIsTheSumOfItsContainers()
    {
        var cache = new CpuUsageCache();
        PodContainerSample[] first = [Sample("a", "app", 0, 0, 1000, 1500), Sample("b", "side", 0, 0, 300, 400)];
        PodContainerSample[] second = [Sample("a", "app", 10 * Second, 5 * (ulong)Second, 1000, 1500), Sample("b", "side", 10 * Second, (ulong)Second, 300, 400)];

        var before = PodStatsBuilder.Build(Sandbox(), first, cache, updateCpuUsage: true);
        var pod = PodStatsBuilder.Build(Sandbox(), second, cache, updateCpuUsage: true);

        Assert.Null(before.Containers[0].Cpu!.UsageNanoCores);
        Assert.Equal(["app", "side"], pod.Containers.Select(c => c.Name));
        Assert.Equal(500_000_000UL, pod.Containers[0].Cpu!.UsageNanoCores);
        Assert.Equal(100_000_000UL, pod.Containers[1].Cpu!.UsageNanoCores);
        Assert.Equal(600_000_000UL, pod.Cpu!.UsageNanoCores);
        Assert.Equal(6 * (ulong)Second, pod.Cpu.UsageCoreNanoSeconds);
        Assert.Equal(1300UL, pod.Memory!.WorkingSetBytes);
        Assert.Equal(1900UL, pod.Memory.UsageBytes);
        Assert.Equal(6UL, pod.Memory.PageFaults);
        Assert.Equal(Created, pod.StartTime);
        Assert.Equal("uid-1", pod.PodRef.Uid);
        // containerd's 0 for "no limit" is left out, as kubelet leaves availableBytes out without a limit.
        Assert.Null(pod.Containers[0].Memory!.AvailableBytes);
    }

    [Fact]
    public void WithAPodCgroup_ThePodIsItsCgroup()
    {
        var cache = new CpuUsageCache();
        var t0 = Created.AddMinutes(1);
        PodStatsBuilder.Build(Sandbox(), [Sample("a", "app", 0, 0, 1000, 1500)], cache, true,
            new CgroupSample(t0, 0, 5000, 4000, 2000, 1, 0, 10_000));
        var pod = PodStatsBuilder.Build(Sandbox(), [Sample("a", "app", 2 * Second, 1, 1000, 1500)], cache, true,
            new CgroupSample(t0.AddSeconds(2), 4 * (ulong)Second, 5000, 4000, 2000, 1, 0, 10_000));

        Assert.Equal(2_000_000_000UL, pod.Cpu!.UsageNanoCores);
        Assert.Equal(4000UL, pod.Memory!.WorkingSetBytes);
        Assert.Equal(6000UL, pod.Memory.AvailableBytes);
    }

    [Fact]
    public void WithoutUpdate_TheRateIsTheCachedOne()
    {
        var cache = new CpuUsageCache();
        PodStatsBuilder.Build(Sandbox(), [Sample("a", "app", 0, 0, 1, 1)], cache, updateCpuUsage: true);
        PodStatsBuilder.Build(Sandbox(), [Sample("a", "app", 10 * Second, 10 * (ulong)Second, 1, 1)], cache, updateCpuUsage: true);
        var read = PodStatsBuilder.Build(Sandbox(), [Sample("a", "app", 20 * Second, 30 * (ulong)Second, 1, 1)], cache, updateCpuUsage: false);
        Assert.Equal(1_000_000_000UL, read.Containers[0].Cpu!.UsageNanoCores);
    }
}
