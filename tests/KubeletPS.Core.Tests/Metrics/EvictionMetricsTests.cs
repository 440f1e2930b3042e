using k8s;
using k8s.Models;
using KubeletPS.Core.Metrics;
using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Pods.Gc;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Server.Endpoints;
using KubeletPS.Core.Tests.Pods.Eviction;
using KubeletPS.Core.Tests.Support.Fakes;
using Microsoft.Extensions.Time.Testing;
using static KubeletPS.Core.Tests.Pods.Eviction.EvictionPods;

namespace KubeletPS.Core.Tests.Metrics;

/// <summary>
/// kubelet_evictions, kubelet_eviction_stats_age_seconds and kubelet_image_garbage_collected_total as /metrics writes
/// them, observed by the eviction manager (fake signals, a fake clock) and image GC (the fake image service).
/// </summary>
public sealed class EvictionMetricsTests : IDisposable
{
    private const long Mi = 1L << 20;
    private const long Gi = 1L << 30;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly KubeletMetricSet _observed = new();
    private readonly string _root = Directory.CreateTempSubdirectory("kps-evictionmetrics-").FullName;

    public void Dispose() => HostMounts.RemoveDirectory(_root);

    private IReadOnlyDictionary<string, PrometheusFamily> Scrape() =>
        PrometheusTextParser.Parse(new KubeletMetrics("node-1", () => [], () => null, () => null, _observed).Render());

    [Fact]
    public async Task A_threshold_eviction_is_counted_by_its_signal_and_the_age_of_the_stats_it_was_decided_on_is_observed()
    {
        // The fake's observation is dated one second after Now: the stats are 3 s old when the round evicts.
        var signals = new FakeSignalSource { Now = _clock.GetUtcNow() - TimeSpan.FromSeconds(4) };
        signals.Set("memory.available", 512 * Mi, 8 * Gi);
        var hog = Pod("hog");
        signals.SetPod(hog, 1536 * Mi);
        var manager = new EvictionManager(new EvictionConfig { Thresholds = EvictionThresholdParser.Parse(new Dictionary<string, string> { ["memory.available"] = "1Gi" }, null, null, null, []) },
            signals, _clock, NullKubeletLog.Instance) { Metrics = _observed };
        Assert.False(Scrape().ContainsKey("kubelet_evictions"));

        Assert.Single(await manager.SynchronizeAsync([hog], null, new FakePodEvictor(), CancellationToken.None));

        var families = Scrape();
        Assert.Equal("counter", families["kubelet_evictions"].Type);
        Assert.Equal("[ALPHA] Cumulative number of pod evictions by eviction signal", families["kubelet_evictions"].Help);
        Assert.Equal(1, families["kubelet_evictions"].Samples.Single(s => s.Label("eviction_signal") == "memory.available").Value);
        var age = families["kubelet_eviction_stats_age_seconds"];
        Assert.Equal("histogram", age.Type);
        Assert.Equal(1, age.Samples.Single(s => s.Name == "kubelet_eviction_stats_age_seconds_count" && s.Label("eviction_signal") == "memory.available").Value);
        Assert.Equal(3, age.Samples.Single(s => s.Name == "kubelet_eviction_stats_age_seconds_sum" && s.Label("eviction_signal") == "memory.available").Value);
    }

    [Fact]
    public async Task An_emptyDir_over_its_sizeLimit_is_counted_as_kubelets_emptydirfs_limit_signal()
    {
        var volumes = new PodVolumes(_root);
        var pod = KubernetesJson.Deserialize<V1Pod>("""
            {"metadata":{"name":"filler","namespace":"default","uid":"filler"},
             "spec":{"containers":[{"name":"main","image":"busybox"}],"volumes":[{"name":"scratch","emptyDir":{"sizeLimit":"1Mi"}}]},"status":{"phase":"Running"}}
            """);
        volumes.Prepare(pod);
        File.WriteAllBytes(Path.Combine(volumes.EmptyDirPath("filler", "scratch"), "fill"), new byte[2 << 20]);
        var manager = new EvictionManager(new EvictionConfig(), null, _clock, NullKubeletLog.Instance) { Metrics = _observed };

        Assert.Single(await manager.SynchronizeAsync([pod], new EmptyDirLimits(volumes, NullKubeletLog.Instance), new FakePodEvictor(), CancellationToken.None));

        var evictions = Scrape()["kubelet_evictions"];
        Assert.Equal(1, evictions.Samples.Single(s => s.Label("eviction_signal") == "emptydirfs.limit").Value);
        // No threshold was met: no stats age is observed (kubelet observes it for met thresholds only).
        Assert.DoesNotContain(Scrape().GetValueOrDefault("kubelet_eviction_stats_age_seconds")?.Samples ?? [], s => s.Name.EndsWith("_count", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Images_removed_for_age_and_for_space_are_counted_by_reason()
    {
        var runtime = new FakeRuntimeService(_clock);
        var images = new FakeImageService();
        images.AddImage("stale", 100);
        var fs = new ImageFsCapacity(1000, 900);
        var gc = new ImageGcManager(runtime, images, new ImageGcPolicy { MinAge = TimeSpan.Zero, MaxAge = TimeSpan.FromHours(1) }, NullKubeletLog.Instance, _clock)
        {
            MeasureFilesystem = _ => fs,
            Metrics = _observed,
        };
        await gc.DetectImagesAsync(default);
        _clock.Advance(TimeSpan.FromMinutes(61));
        Assert.Single((await gc.GarbageCollectAsync(GcMode.Remove, default)).Removals);

        // A never-used image is past imageMaximumGCAge too (as kubelet's zero lastUsed): the space pass runs without one.
        images.AddImage("big", 200);
        var bySpace = new ImageGcManager(runtime, images, new ImageGcPolicy { MinAge = TimeSpan.Zero }, NullKubeletLog.Instance, _clock)
        {
            MeasureFilesystem = _ => fs,
            Metrics = _observed,
        };
        await bySpace.DetectImagesAsync(default);
        _clock.Advance(TimeSpan.FromMinutes(1));
        fs = new ImageFsCapacity(1000, 100); // 90 %, over the default high threshold of 85 %
        Assert.Single((await bySpace.GarbageCollectAsync(GcMode.Remove, default)).Removals);

        var collected = Scrape()["kubelet_image_garbage_collected_total"];
        Assert.Equal("counter", collected.Type);
        Assert.Equal(1, collected.Samples.Single(s => s.Label("reason") == "age").Value);
        Assert.Equal(1, collected.Samples.Single(s => s.Label("reason") == "space").Value);
    }
}
