using KubeletPS.Core.Node;
using KubeletPS.Core.Stats;
using KubeletPS.Core.Tests.Runtime;

namespace KubeletPS.Core.Tests.Stats;

/// <summary>The stats provider on the private containerd: a CPU burner and a pod holding 50 MiB of memory.</summary>
[Collection(ContainerdCollection.Name)]
public sealed class CriStatsProviderTests(ContainerdFixture fixture)
{
    private const ulong MiB = 1024 * 1024;

    [Fact]
    public async Task Summary_ShowsTheBurnersCpuRate_TheHogsWorkingSet_AndPlausibleNodeFigures()
    {
        var burnerPod = fixture.NewPod("burner");
        var hogPod = fixture.NewPod("hog");
        string? burnerId = null, hogId = null;
        var root = Directory.CreateTempSubdirectory("kps-stats-root-").FullName;
        try
        {
            burnerId = await fixture.Client.RunPodSandboxAsync(burnerPod);
            var burner = await fixture.Client.CreateContainerAsync(burnerId, fixture.NewContainer("burn", "sh", "-c", "while :; do :; done"), burnerPod);
            await fixture.Client.StartContainerAsync(burner);
            hogId = await fixture.Client.RunPodSandboxAsync(hogPod);
            var hog = await fixture.Client.CreateContainerAsync(hogId,
                fixture.NewContainer("hold", "sh", "-c", "dd if=/dev/zero of=/dev/shm/x bs=1M count=50 && sleep 3600"), hogPod);
            await fixture.Client.StartContainerAsync(hog);

            var provider = new CriStatsProvider(new CriStatsProviderOptions { NodeName = "node1", Runtime = fixture.Client, RootDirectory = root });
            // The hog's 50 MiB are written once dd has run; the rates need a second sample.
            var first = await ContainerdFixture.WaitForAsync(() => provider.GetSummaryAsync(updateCpuUsage: true),
                s => Container(s, hogPod.Name)?.Memory?.WorkingSetBytes >= 50 * MiB && Container(s, burnerPod.Name) is not null,
                "the hog's working set to reach 50 MiB", TimeSpan.FromSeconds(60));
            await Task.Delay(TimeSpan.FromSeconds(1));
            var summary = await provider.GetSummaryAsync(updateCpuUsage: true);

            var burnStats = Container(summary, burnerPod.Name)!;
            var holdStats = Container(summary, hogPod.Name)!;
            Assert.True(burnStats.Cpu!.UsageNanoCores > 0, $"burner usageNanoCores {burnStats.Cpu.UsageNanoCores}");
            Assert.True(burnStats.Cpu.UsageNanoCores > holdStats.Cpu!.UsageNanoCores, $"burner {burnStats.Cpu.UsageNanoCores} vs sleeper {holdStats.Cpu.UsageNanoCores}");
            Assert.True(holdStats.Memory!.WorkingSetBytes >= 50 * MiB, $"hog working set {holdStats.Memory.WorkingSetBytes}");
            Assert.True(holdStats.Memory.UsageBytes >= holdStats.Memory.WorkingSetBytes);

            // The pod without a pod cgroup is the sum of its containers; its network is eth0 of its namespace.
            var hogStats = summary.Pods.Single(p => p.PodRef.Name == hogPod.Name);
            Assert.Equal(hogPod.Uid, hogStats.PodRef.Uid);
            Assert.Equal(holdStats.Memory.WorkingSetBytes, hogStats.Memory!.WorkingSetBytes);
            Assert.Equal("eth0", hogStats.Network?.Name);
            Assert.NotNull(hogStats.Network!.RxBytes);
            Assert.NotNull(hogStats.EphemeralStorage?.UsedBytes);
            Assert.True(holdStats.Rootfs?.CapacityBytes > 0, "the writable layer carries the image file system's capacity");

            var machine = new MachineInfoReader(rootDirectory: root).Read();
            var node = summary.Node;
            Assert.Equal("node1", node.NodeName);
            Assert.True(node.Cpu!.UsageCoreNanoSeconds > 0);
            Assert.True(node.Cpu.UsageNanoCores > 0 && node.Cpu.UsageNanoCores <= (ulong)machine.CpuCount * 1_000_000_000UL * 11 / 10,
                $"node usageNanoCores {node.Cpu.UsageNanoCores} for {machine.CpuCount} CPUs");
            Assert.True(node.Memory!.WorkingSetBytes > holdStats.Memory.WorkingSetBytes && node.Memory.WorkingSetBytes <= (ulong)machine.MemoryCapacityBytes,
                $"node working set {node.Memory.WorkingSetBytes}, capacity {machine.MemoryCapacityBytes}");
            Assert.Equal((ulong)machine.MemoryCapacityBytes - node.Memory.WorkingSetBytes, node.Memory.AvailableBytes);
            Assert.True(node.Fs!.CapacityBytes > 0 && node.Fs.AvailableBytes <= node.Fs.CapacityBytes);
            // containerd measures its snapshots every few seconds: the bytes used may still be 0, the file system is known.
            Assert.NotNull(node.Runtime!.ImageFs!.UsedBytes);
            Assert.True(node.Runtime.ImageFs.CapacityBytes > 0 && node.Runtime.ImageFs.AvailableBytes <= node.Runtime.ImageFs.CapacityBytes);
            Assert.True(node.Rlimit!.MaxPid > 0 && node.Rlimit.NumOfRunningProcesses > 0);
            Assert.True(node.StartTime < DateTimeOffset.UtcNow && node.StartTime > DateTimeOffset.UnixEpoch);

            // The same figures through the wire formats.
            var parsed = Summary.FromJson(summary.ToJson());
            Assert.Equal(holdStats.Memory.WorkingSetBytes, parsed.Pods.Single(p => p.PodRef.Name == hogPod.Name).Containers.Single().Memory!.WorkingSetBytes);
            var metrics = ResourceMetricsWriter.Write(await provider.GetCpuAndMemoryStatsAsync());
            Assert.Contains($"container_cpu_usage_seconds_total{{container=\"burn\",namespace=\"default\",pod=\"{burnerPod.Name}\"}} ", metrics);
            Assert.Contains($"pod_memory_working_set_bytes{{namespace=\"default\",pod=\"{hogPod.Name}\"}} ", metrics);
            Assert.Contains("\nscrape_error 0\n", metrics);
        }
        finally
        {
            await fixture.RemovePodAsync(burnerId);
            await fixture.RemovePodAsync(hogId);
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task CpuAndMemoryOnly_LeavesOutFilesystemsAndNetwork_AndDoesNotMoveTheRates()
    {
        var pod = fixture.NewPod("quiet");
        string? sandboxId = null;
        try
        {
            sandboxId = await fixture.Client.RunPodSandboxAsync(pod);
            var id = await fixture.Client.CreateContainerAsync(sandboxId, fixture.NewContainer("main", "sleep", "3600"), pod);
            await fixture.Client.StartContainerAsync(id);
            var provider = new CriStatsProvider(new CriStatsProviderOptions { NodeName = "node1", Runtime = fixture.Client });

            var summary = await provider.GetCpuAndMemoryStatsAsync();

            var stats = summary.Pods.Single(p => p.PodRef.Name == pod.Name);
            Assert.NotNull(stats.Cpu?.UsageCoreNanoSeconds);
            Assert.NotNull(stats.Memory?.WorkingSetBytes);
            Assert.Null(stats.Network);
            Assert.Null(stats.EphemeralStorage);
            Assert.Null(stats.Containers.Single().Rootfs);
            Assert.Null(summary.Node.Fs);
            Assert.Null(summary.Node.Cpu!.UsageNanoCores);
            Assert.Equal(0, provider.CpuUsage.Count);
        }
        finally
        {
            await fixture.RemovePodAsync(sandboxId);
        }
    }

    private static ContainerStats? Container(Summary summary, string podName) =>
        summary.Pods.FirstOrDefault(p => p.PodRef.Name == podName)?.Containers.SingleOrDefault();
}
