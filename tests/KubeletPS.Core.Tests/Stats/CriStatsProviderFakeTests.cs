using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Stats;
using KubeletPS.Core.Tests.Support.Fakes;

namespace KubeletPS.Core.Tests.Stats;

/// <summary>The stats provider over the fake runtime: the figures are the ones the runtime reported, summed per pod.</summary>
public sealed class CriStatsProviderFakeTests : IDisposable
{
    private const ulong MiB = 1024 * 1024;
    private const long Second = 1_000_000_000;
    // The runtime's sample times: recent, since the provider forgets rates older than CpuUsageCache.DefaultRetention.
    private static readonly long T0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
    private readonly string _root = Directory.CreateTempSubdirectory("kps-stats-fake-").FullName;
    private readonly FakeRuntimeService _runtime = new();
    private readonly FakeImageService _images = new();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string RunningContainer(string sandboxId, string name) =>
        _runtime.AddContainer(sandboxId, new ContainerSpec
        {
            Name = name,
            Image = "busybox",
            Labels = new Dictionary<string, string> { [KubeletLabels.ContainerName] = name },
        }, ContainerState.Running).Id;

    private static ContainerStatsInfo Sample(string id, string name, long at, ulong cpuNanos, ulong workingSet) =>
        new(id, name, 0, new Dictionary<string, string>(), new CpuUsageSample(at, cpuNanos), new MemoryUsageSample(at, workingSet, UsageBytes: workingSet + MiB), null);

    [Fact]
    public async Task A_pod_is_the_sum_of_its_containers_and_the_cpu_rate_comes_from_two_samples()
    {
        var web = _runtime.AddSandbox(new PodSandboxSpec { Name = "web", Namespace = "shop", Uid = "uid-web" });
        var app = RunningContainer(web.Id, "app");
        var sidecar = RunningContainer(web.Id, "sidecar");
        _runtime.AddContainer(web.Id, new ContainerSpec { Name = "done", Image = "busybox" }, ContainerState.Exited);
        _images.AddImage("busybox", size: 5 * MiB);
        // The sandbox's pause process: this test's own, whose network namespace the pod's network is read from.
        _runtime.SetDetails(web.Id, new SandboxRuntimeDetails(Environment.ProcessId, "", "", HostNetwork: false));
        var provider = new CriStatsProvider(new CriStatsProviderOptions { NodeName = "node1", Runtime = _runtime, Images = _images, RootDirectory = _root });

        _runtime.SetStats(Sample(app, "app", T0, 4 * (ulong)Second, 30 * MiB));
        _runtime.SetStats(Sample(sidecar, "sidecar", T0, 1 * (ulong)Second, 10 * MiB));
        await provider.GetSummaryAsync(updateCpuUsage: true);
        // Two seconds on: app used 1 s of CPU (half a core), the sidecar 0.2 s.
        _runtime.SetStats(Sample(app, "app", T0 + 2 * Second, 5 * (ulong)Second, 40 * MiB));
        _runtime.SetStats(Sample(sidecar, "sidecar", T0 + 2 * Second, 1_200_000_000, 12 * MiB));
        var summary = await provider.GetSummaryAsync(updateCpuUsage: true);

        var pod = Assert.Single(summary.Pods);
        Assert.Equal(("web", "shop", "uid-web"), (pod.PodRef.Name, pod.PodRef.Namespace, pod.PodRef.Uid));
        Assert.Equal(["app", "sidecar"], pod.Containers.Select(c => c.Name).Order());
        var appStats = pod.Containers.Single(c => c.Name == "app");
        Assert.Equal(40 * MiB, appStats.Memory!.WorkingSetBytes);
        Assert.Equal(500_000_000UL, appStats.Cpu!.UsageNanoCores);
        Assert.Equal(5 * (ulong)Second, appStats.Cpu.UsageCoreNanoSeconds);
        Assert.Equal(52 * MiB, pod.Memory!.WorkingSetBytes);
        Assert.Equal(6_200_000_000UL, pod.Cpu!.UsageCoreNanoSeconds);
        Assert.Equal(600_000_000UL, pod.Cpu.UsageNanoCores);
        Assert.Equal(5 * MiB, summary.Node.Runtime!.ImageFs!.UsedBytes);
        Assert.NotNull(pod.Network);
        // The sandbox's verbose status is asked once while it lives, not per summary.
        Assert.Equal(1, _runtime.Calls.Count("PodSandboxStatus"));
    }

    [Fact]
    public async Task A_runtime_without_image_file_systems_gives_a_summary_without_runtime_stats()
    {
        var provider = new CriStatsProvider(new CriStatsProviderOptions { NodeName = "node1", Runtime = _runtime, Images = _images, RootDirectory = _root });
        _images.Calls.InjectErrorAlways("ImageFsInfo", FakeCriCalls.Error("ImageFsInfo", RuntimeErrorKind.Unimplemented));

        var summary = await provider.GetSummaryAsync(updateCpuUsage: false);

        Assert.Empty(summary.Pods);
        Assert.Null(summary.Node.Runtime);
        Assert.Equal("node1", summary.Node.NodeName);
    }
}
