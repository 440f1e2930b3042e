using KubeletPS.Core.Pods.Eviction;
using Microsoft.Extensions.Time.Testing;
using static KubeletPS.Core.Tests.Pods.Eviction.EvictionPods;

namespace KubeletPS.Core.Tests.Pods.Eviction;

/// <summary>
/// The eviction manager's rounds with fake observations and a fake clock (as kubelet's eviction_manager_test.go):
/// conditions, grace and transition periods, minimum reclaim, node-level reclaim, one pod per round, critical pods.
/// </summary>
public sealed class EvictionManagerTests
{
    private const long Mi = 1L << 20;
    private const long Gi = 1L << 30;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeSignalSource _signals = new();
    private readonly FakePodEvictor _evictor = new();
    private readonly RecordingEvents _events = new();

    private EvictionManager Manager(string hard = "", string soft = "", string grace = "", string minReclaim = "", long maxPodGrace = 0,
        TimeSpan? transition = null, FakeNodeReclaim? reclaim = null)
    {
        static Dictionary<string, string> Map(string text) => text.Length == 0 ? []
            : text.Split(',').Select(p => p.Split('=')).ToDictionary(p => p[0], p => p[1]);
        var config = new EvictionConfig
        {
            Thresholds = EvictionThresholdParser.Parse(Map(hard), Map(soft), Map(grace), Map(minReclaim), []),
            PressureTransitionPeriod = transition ?? TimeSpan.FromMinutes(5),
            MaxPodGracePeriodSeconds = maxPodGrace,
        };
        return new EvictionManager(config, _signals, _clock, NullKubeletLog.Instance)
        {
            Events = _events,
            NodeName = "node-1",
            ImageGc = reclaim,
            ContainerGc = reclaim,
        };
    }

    private Task<IReadOnlyList<k8s.Models.V1Pod>> Round(EvictionManager manager, params k8s.Models.V1Pod[] pods) =>
        manager.SynchronizeAsync(pods, null, _evictor, CancellationToken.None);

    [Fact]
    public async Task A_hard_memory_threshold_evicts_the_best_effort_hog_first_with_kubelets_message_and_event()
    {
        var manager = Manager(hard: "memory.available=1Gi");
        var hog = Pod("hog");
        var guaranteed = Pod("guaranteed", "1Gi", "1Gi");
        var burstable = Pod("burstable", "100Mi");
        _signals.Set("memory.available", 512 * Mi, 8 * Gi);
        _signals.SetPod(guaranteed, 900 * Mi);
        _signals.SetPod(burstable, 50 * Mi);
        _signals.SetPod(hog, 1536 * Mi);

        var evicted = await Round(manager, guaranteed, burstable, hog);

        Assert.Equal(["hog"], evicted.Select(p => p.Metadata.Name));
        var (name, grace, message) = Assert.Single(_evictor.Evicted);
        Assert.Equal(("hog", 1L), (name, grace));
        Assert.Equal("The node was low on resource: memory. Threshold quantity: 1Gi, available: 512Mi. " +
            "Container main was using 1536Mi, request is 0, has larger consumption of memory. ", message);
        Assert.Equal(["MemoryPressure"], manager.NodeConditions);
        Assert.Contains(("Node", "node-1", "Warning", "EvictionThresholdMet", "Attempting to reclaim memory"), _events.Events);
        Assert.Contains(("Pod", "hog", "Warning", "Evicted", message), _events.Events);
    }

    [Fact]
    public async Task One_pod_is_evicted_per_round_and_the_next_round_takes_the_next_in_rank()
    {
        var manager = Manager(hard: "memory.available=1Gi");
        var a = Pod("a");
        var b = Pod("b", "10Mi");
        _signals.Set("memory.available", 100 * Mi, 8 * Gi);
        _signals.SetPod(a, 300 * Mi);
        _signals.SetPod(b, 200 * Mi);
        Assert.Equal(["a"], (await Round(manager, a, b)).Select(p => p.Metadata.Name));
        Assert.Equal(["b"], (await Round(manager, b)).Select(p => p.Metadata.Name));
        Assert.Equal(["a", "b"], _evictor.Evicted.Select(e => e.Name));
    }

    [Fact]
    public async Task A_soft_threshold_sets_the_condition_at_once_but_evicts_only_after_its_grace_period_with_the_max_pod_grace_period()
    {
        var manager = Manager(soft: "memory.available=2Gi", grace: "memory.available=1m", maxPodGrace: 25);
        var pod = Pod("web");
        _signals.Set("memory.available", Gi, 8 * Gi);
        _signals.SetPod(pod, 500 * Mi);

        Assert.Empty(await Round(manager, pod));
        Assert.Equal(["MemoryPressure"], manager.NodeConditions);
        _clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Empty(await Round(manager, pod));
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Single(await Round(manager, pod));
        Assert.Equal(("web", 25L), (_evictor.Evicted[0].Name, _evictor.Evicted[0].GracePeriod));
    }

    [Fact]
    public async Task A_soft_threshold_that_clears_within_its_grace_period_starts_over()
    {
        var manager = Manager(soft: "memory.available=2Gi", grace: "memory.available=1m");
        var pod = Pod("web");
        _signals.SetPod(pod, 500 * Mi);
        _signals.Set("memory.available", Gi, 8 * Gi);
        await Round(manager, pod);
        _clock.Advance(TimeSpan.FromSeconds(40));
        _signals.Set("memory.available", 3 * Gi, 8 * Gi);
        await Round(manager, pod);
        _clock.Advance(TimeSpan.FromSeconds(40));
        _signals.Set("memory.available", Gi, 8 * Gi);
        Assert.Empty(await Round(manager, pod));
        Assert.Empty(_evictor.Evicted);
    }

    [Fact]
    public async Task The_pressure_condition_stays_for_the_transition_period_after_the_threshold_clears()
    {
        var manager = Manager(hard: "nodefs.available=10%", transition: TimeSpan.FromMinutes(5));
        _signals.Set("nodefs.available", 5 * Gi, 100 * Gi);
        await Round(manager);
        Assert.Equal(["DiskPressure"], manager.NodeConditions);
        Assert.True(manager.HasCondition("DiskPressure"));

        _signals.Set("nodefs.available", 50 * Gi, 100 * Gi);
        _clock.Advance(TimeSpan.FromMinutes(4));
        await Round(manager);
        Assert.Equal(["DiskPressure"], manager.NodeConditions);
        _clock.Advance(TimeSpan.FromMinutes(1));
        await Round(manager);
        Assert.Empty(manager.NodeConditions);
        Assert.False(manager.HasCondition("DiskPressure"));
    }

    [Fact]
    public async Task Once_met_a_threshold_stays_met_until_its_minimum_reclaim_is_reached()
    {
        var manager = Manager(hard: "memory.available=1Gi", minReclaim: "memory.available=500Mi", transition: TimeSpan.Zero);
        var pod = Pod("a");
        _signals.SetPod(pod, 100 * Mi);
        _signals.Set("memory.available", 900 * Mi, 8 * Gi);
        Assert.Single(await Round(manager, pod));

        // Above the threshold, below threshold + minimum reclaim: still met, so another pod goes.
        _signals.Set("memory.available", 1200 * Mi, 8 * Gi);
        Assert.Single(await Round(manager, pod));
        Assert.Equal(["memory.available"], manager.ThresholdsMet.Select(t => t.Signal));

        _signals.Set("memory.available", 1600 * Mi, 8 * Gi);
        Assert.Empty(await Round(manager, pod));
        Assert.Empty(manager.ThresholdsMet);
        Assert.Equal(2, _evictor.Evicted.Count);
    }

    [Fact]
    public async Task Disk_pressure_is_relieved_by_node_level_reclaim_before_any_pod_is_evicted()
    {
        var reclaim = new FakeNodeReclaim(_signals, "nodefs.available", 20 * Gi);
        var manager = Manager(hard: "nodefs.available=10%", reclaim: reclaim);
        var pod = Pod("a");
        _signals.SetPod(pod, 0, rootfs: Gi);
        _signals.Set("nodefs.available", 5 * Gi, 100 * Gi);

        Assert.Empty(await Round(manager, pod));
        Assert.Equal(["containers", "images"], reclaim.Calls);
        Assert.Empty(_evictor.Evicted);
    }

    [Fact]
    public async Task When_node_level_reclaim_frees_too_little_the_largest_disk_user_is_evicted()
    {
        var reclaim = new FakeNodeReclaim(_signals, "nodefs.available", Gi);
        var manager = Manager(hard: "nodefs.available=10Gi", reclaim: reclaim);
        var small = Pod("small");
        var big = Pod("big");
        _signals.SetPod(small, 0, rootfs: Gi);
        _signals.SetPod(big, 0, rootfs: 3 * Gi, logs: Gi);
        _signals.Set("nodefs.available", 5 * Gi, 100 * Gi);

        Assert.Equal(["big"], (await Round(manager, small, big)).Select(p => p.Metadata.Name));
        Assert.Equal(["containers", "images"], reclaim.Calls);
        Assert.StartsWith("The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 5Gi. " +
            "Container main was using 4Gi, request is 0, has larger consumption of ephemeral-storage. ", _evictor.Evicted[0].Message);
    }

    [Fact]
    public async Task Memory_pressure_reclaims_nothing_at_node_level_and_nodefs_does_not_delete_images_on_a_dedicated_imagefs()
    {
        var reclaim = new FakeNodeReclaim(_signals, "nodefs.available", 50 * Gi);
        _signals.DedicatedImageFs = true;
        var manager = Manager(hard: "memory.available=1Gi,nodefs.available=10%", reclaim: reclaim);
        var pod = Pod("a");
        _signals.SetPod(pod, 10 * Mi);
        _signals.Set("memory.available", 100 * Mi, 8 * Gi);
        _signals.Set("nodefs.available", 5 * Gi, 100 * Gi);
        Assert.Single(await Round(manager, pod));
        Assert.Empty(reclaim.Calls);
        Assert.Equal(["MemoryPressure", "DiskPressure"], manager.NodeConditions);

        _signals.Set("memory.available", 4 * Gi, 8 * Gi);
        Assert.Single(await Round(manager, pod));
        Assert.Empty(reclaim.Calls);
    }

    [Fact]
    public async Task Critical_pods_are_never_evicted_the_next_in_rank_is()
    {
        var manager = Manager(hard: "memory.available=1Gi");
        var staticPod = Pod("static", annotations: """{"kubernetes.io/config.source":"file"}""");
        var systemCritical = Pod("critical", priority: 2_000_001_000);
        var user = Pod("user", "1Gi", "1Gi");
        _signals.Set("memory.available", 100 * Mi, 8 * Gi);
        _signals.SetPod(staticPod, 2 * Gi);
        _signals.SetPod(systemCritical, 2 * Gi);
        _signals.SetPod(user, 10 * Mi);

        Assert.Equal(["user"], (await Round(manager, staticPod, systemCritical, user)).Select(p => p.Metadata.Name));
        Assert.Empty(await Round(manager, staticPod, systemCritical));
    }

    [Fact]
    public async Task A_pod_already_ending_is_passed_over_for_the_next()
    {
        var manager = Manager(hard: "memory.available=1Gi");
        var a = Pod("a");
        var b = Pod("b");
        _signals.Set("memory.available", 100 * Mi, 8 * Gi);
        _signals.SetPod(a, 300 * Mi);
        _signals.SetPod(b, 200 * Mi);
        _evictor.Refuse.Add("a");
        Assert.Equal(["b"], (await Round(manager, a, b)).Select(p => p.Metadata.Name));
    }

    [Fact]
    public async Task No_threshold_met_and_no_emptyDir_limit_evicts_nothing_and_reports_no_pressure()
    {
        var manager = Manager(hard: "memory.available=100Mi,pid.available=1000");
        _signals.Set("memory.available", 4 * Gi, 8 * Gi);
        _signals.Set("pid.available", 30000, 32768);
        Assert.Empty(await Round(manager, Pod("a")));
        Assert.Empty(manager.NodeConditions);
        Assert.Empty(_events.Events);
    }

    [Fact]
    public async Task Pid_pressure_sets_PIDPressure_and_evicts_the_lowest_priority_pod()
    {
        var manager = Manager(hard: "pid.available=1000");
        var low = Pod("low", priority: -10);
        var high = Pod("high", priority: 1000);
        _signals.Set("pid.available", 500, 32768);
        _signals.SetPod(low, 0);
        _signals.SetPod(high, 0);
        Assert.Equal(["low"], (await Round(manager, high, low)).Select(p => p.Metadata.Name));
        Assert.Equal(["PIDPressure"], manager.NodeConditions);
        Assert.Equal("The node was low on resource: pids. Threshold quantity: 1000, available: 500. ", _evictor.Evicted[0].Message);
    }

    [Fact]
    public void Thresholds_without_a_signal_source_are_refused_at_construction() =>
        Assert.Throws<ArgumentException>(() => new EvictionManager(
            new EvictionConfig { Thresholds = EvictionThresholdParser.Parse(new Dictionary<string, string> { ["memory.available"] = "1Mi" }, null, null, null, []) },
            null, TimeProvider.System, NullKubeletLog.Instance));
}
