using KubeletPS.Core.Pods.Eviction;
using Microsoft.Extensions.Time.Testing;
using static KubeletPS.Core.Tests.Pods.Eviction.EvictionPods;

namespace KubeletPS.Core.Tests.Pods.Eviction;

/// <summary>
/// The eviction manager over a source that serves cached figures (the stats provider's last summary, up to one
/// interval old): rounds with nothing near a threshold read the cache; figures that meet a threshold, a threshold
/// met before, and the re-observation after node-level reclaim are measured anew, and only fresh figures decide.
/// </summary>
public sealed class EvictionCachedObservationsTests
{
    private const long Mi = 1L << 20;
    private const long Gi = 1L << 30;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly CachingSignalSource _signals = new();
    private readonly FakePodEvictor _evictor = new();

    /// <summary>What the cache holds (<see cref="Cached"/>) and what a new measurement gives (<see cref="Fresh"/>).</summary>
    private sealed class CachingSignalSource : IEvictionSignalSource
    {
        public FakeSignalSource Cached { get; } = new();
        public FakeSignalSource Fresh { get; } = new();
        public bool ServesCachedObservations => true;
        public Task<bool> HasDedicatedImageFsAsync(CancellationToken cancellationToken) => Task.FromResult(false);
        public Task<EvictionObservations> ObserveAsync(CancellationToken cancellationToken) => Cached.ObserveAsync(cancellationToken);
        public Task<EvictionObservations> ObserveFreshAsync(CancellationToken cancellationToken) => Fresh.ObserveAsync(cancellationToken);
    }

    private EvictionManager Manager(string hard, FakeNodeReclaim? reclaim = null)
    {
        var config = new EvictionConfig
        {
            Thresholds = EvictionThresholdParser.Parse(hard.Split(',').Select(p => p.Split('=')).ToDictionary(p => p[0], p => p[1]), new Dictionary<string, string>(),
                new Dictionary<string, string>(), new Dictionary<string, string>(), []),
        };
        return new EvictionManager(config, _signals, _clock, NullKubeletLog.Instance) { ImageGc = reclaim, ContainerGc = reclaim };
    }

    /// <summary>memory.available (of 8 Gi) and the pods' working sets, as one source measures them.</summary>
    private static void Measure(FakeSignalSource source, long memoryAvailable, params (k8s.Models.V1Pod Pod, long WorkingSet)[] pods)
    {
        source.Set("memory.available", memoryAvailable, 8 * Gi);
        foreach (var (pod, workingSet) in pods) source.SetPod(pod, workingSet);
    }

    private Task<IReadOnlyList<k8s.Models.V1Pod>> Round(EvictionManager manager, params k8s.Models.V1Pod[] pods) =>
        manager.SynchronizeAsync(pods, null, _evictor, CancellationToken.None);

    [Fact]
    public async Task Cached_figures_away_from_every_threshold_are_used_without_a_new_measurement()
    {
        var manager = Manager("memory.available=1Gi");
        Measure(_signals.Cached, 4 * Gi);
        Measure(_signals.Fresh, 4 * Gi);

        Assert.Empty(await Round(manager, Pod("a")));
        Assert.Empty(await Round(manager, Pod("a")));

        Assert.Equal((2, 0), (_signals.Cached.Observations, _signals.Fresh.Observations));
        Assert.Empty(manager.NodeConditions);
    }

    [Fact]
    public async Task Cached_figures_that_meet_a_threshold_are_measured_anew_and_the_fresh_ones_decide()
    {
        var manager = Manager("memory.available=1Gi");
        var hog = Pod("hog");
        Measure(_signals.Cached, 512 * Mi, (hog, 1536 * Mi));
        Measure(_signals.Fresh, 3 * Gi, (hog, 100 * Mi));

        Assert.Empty(await Round(manager, hog));

        Assert.Equal(1, _signals.Fresh.Observations);
        Assert.Empty(_evictor.Evicted);
        Assert.Empty(manager.NodeConditions);
    }

    [Fact]
    public async Task Pods_are_ranked_by_the_fresh_figures()
    {
        var manager = Manager("memory.available=1Gi");
        var a = Pod("a");
        var b = Pod("b");
        Measure(_signals.Cached, 512 * Mi, (a, 1536 * Mi), (b, 100 * Mi));
        Measure(_signals.Fresh, 512 * Mi, (a, 100 * Mi), (b, 1536 * Mi));

        Assert.Equal(["b"], (await Round(manager, a, b)).Select(p => p.Metadata.Name));
        Assert.Equal(["MemoryPressure"], manager.NodeConditions);
    }

    [Fact]
    public async Task After_a_threshold_was_met_the_next_round_measures_anew_though_the_cache_looks_fine()
    {
        var manager = Manager("memory.available=1Gi");
        var a = Pod("a");
        var b = Pod("b");
        Measure(_signals.Cached, 512 * Mi);
        Measure(_signals.Fresh, 512 * Mi, (a, 300 * Mi), (b, 200 * Mi));
        Assert.Equal(["a"], (await Round(manager, a, b)).Select(p => p.Metadata.Name));

        // The cache still holds figures from before the eviction; the node is in fact still short of memory.
        Measure(_signals.Cached, 4 * Gi);
        Assert.Equal(["b"], (await Round(manager, b)).Select(p => p.Metadata.Name));
        Assert.Equal(2, _signals.Fresh.Observations);
    }

    [Fact]
    public async Task Node_level_reclaim_is_judged_on_a_new_measurement_not_on_the_cache()
    {
        // The collectors free 30 Gi, as a fresh measurement sees; the cache still shows the disk full.
        var reclaim = new FakeNodeReclaim(_signals.Fresh, "nodefs.available", 30 * Gi);
        var manager = Manager("nodefs.available=10%", reclaim);
        var pod = Pod("a");
        _signals.Cached.Set("nodefs.available", 5 * Gi, 100 * Gi);
        _signals.Fresh.Set("nodefs.available", 5 * Gi, 100 * Gi);
        _signals.Fresh.SetPod(pod, 100 * Mi, rootfs: 1 * Gi);

        Assert.Empty(await Round(manager, pod));

        Assert.NotEmpty(reclaim.Calls);
        Assert.Empty(_evictor.Evicted);
        Assert.Equal(2, _signals.Fresh.Observations);
    }
}
