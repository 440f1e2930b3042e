using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Stats;
using KubeletPS.Core.Tests.Support.Fakes;
using Microsoft.Extensions.Time.Testing;

namespace KubeletPS.Core.Tests.Stats;

/// <summary>
/// The provider's last full summary, served to readers that accept figures of a given age (the eviction manager
/// reads the one the agent's sampler collected in the same interval): a hit within the age, a new collection
/// after it, and a removed pod gone from the next collection.
/// </summary>
public sealed class CriStatsProviderCacheTests : IDisposable
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(10);
    private readonly string _root = Directory.CreateTempSubdirectory("kps-stats-cache-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeRuntimeService _runtime = new();
    private readonly FakeImageService _images = new();
    private readonly CriStatsProvider _provider;

    public CriStatsProviderCacheTests()
    {
        _provider = new CriStatsProvider(new CriStatsProviderOptions { NodeName = "node1", Runtime = _runtime, Images = _images, RootDirectory = _root, Time = _time });
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string RunningPod(string name)
    {
        var sandbox = _runtime.AddSandbox(new PodSandboxSpec { Name = name, Namespace = "default", Uid = "uid-" + name });
        var id = _runtime.AddContainer(sandbox.Id, new ContainerSpec
        {
            Name = "main",
            Image = "busybox",
            Labels = new Dictionary<string, string> { [KubeletLabels.ContainerName] = "main" },
        }, ContainerState.Running).Id;
        var at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        _runtime.SetStats(new ContainerStatsInfo(id, "main", 0, new Dictionary<string, string>(), new CpuUsageSample(at, 1_000_000_000), new MemoryUsageSample(at, 10 << 20, UsageBytes: 11 << 20), null));
        return sandbox.Id;
    }

    [Fact]
    public async Task Within_the_age_the_last_summary_is_served_without_asking_the_runtime()
    {
        RunningPod("web");
        var sampled = await _provider.GetSummaryAsync(updateCpuUsage: true);
        _time.Advance(TimeSpan.FromSeconds(9));

        var served = await _provider.GetSummaryAsync(MaxAge);

        Assert.Same(sampled, served);
        Assert.Equal(1, _runtime.Calls.Count("ListContainerStats"));
        Assert.Equal(1, _images.Calls.Count("ImageFsInfo"));
    }

    [Fact]
    public async Task Past_the_age_a_new_summary_is_collected_and_a_removed_pod_is_gone_from_it()
    {
        var web = RunningPod("web");
        RunningPod("db");
        var first = await _provider.GetSummaryAsync(MaxAge);
        Assert.Equal(["db", "web"], first.Pods.Select(p => p.PodRef.Name));

        await _runtime.StopPodSandboxAsync(web);
        await _runtime.RemovePodSandboxAsync(web);
        _time.Advance(TimeSpan.FromSeconds(11));
        var second = await _provider.GetSummaryAsync(MaxAge);

        Assert.NotSame(first, second);
        Assert.Equal(["db"], second.Pods.Select(p => p.PodRef.Name));
        Assert.Equal(2, _runtime.Calls.Count("ListContainerStats"));
        // The new one is served next.
        Assert.Same(second, await _provider.GetSummaryAsync(MaxAge));
    }

    [Fact]
    public async Task Explicit_collections_always_ask_the_runtime()
    {
        RunningPod("web");
        await _provider.GetSummaryAsync(MaxAge);

        await _provider.GetSummaryAsync(updateCpuUsage: false);
        await _provider.GetSummaryAsync(updateCpuUsage: true);
        await _provider.GetCpuAndMemoryStatsAsync();

        Assert.Equal(4, _runtime.Calls.Count("ListContainerStats"));
    }

    [Fact]
    public async Task A_cpu_and_memory_collection_is_not_served_as_a_full_summary()
    {
        RunningPod("web");
        await _provider.GetCpuAndMemoryStatsAsync();

        var summary = await _provider.GetSummaryAsync(MaxAge);

        Assert.NotNull(summary.Node.Runtime?.ImageFs);
        Assert.Equal(2, _runtime.Calls.Count("ListContainerStats"));
    }

    [Fact]
    public async Task The_sampler_keeps_a_full_summary_for_the_readers_of_its_interval()
    {
        RunningPod("web");
        using var stop = new CancellationTokenSource();
        // The first sample is taken at once; the period is long enough that no second one comes.
        var sampler = _provider.RunCpuUsageSamplerAsync(TimeSpan.FromHours(1), stop.Token);
        await Runtime.ContainerdFixture.WaitForAsync(() => Task.FromResult(_runtime.Calls.Count("ListContainerStats")), n => n == 1, "the sampler's first sample", TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        await sampler;

        var summary = await _provider.GetSummaryAsync(MaxAge);

        Assert.NotNull(summary.Node.Runtime?.ImageFs);
        Assert.Single(summary.Pods);
        Assert.Equal(1, _runtime.Calls.Count("ListContainerStats"));
    }
}
