using KubeletPS.Core.Pods.Eviction;
using static KubeletPS.Core.Tests.Pods.Eviction.EvictionPods;

namespace KubeletPS.Core.Tests.Pods.Eviction;

/// <summary>kubelet's ranking cases (helpers_test.go TestOrderedByExceedsRequestMemory, TestOrderedByPriority, TestOrderedbyMemory, disk and PID).</summary>
public sealed class EvictionRankingTests
{
    private const long Mi = 1L << 20;
    private readonly FakeSignalSource _stats = new();

    private IReadOnlyList<string> Memory(params k8s.Models.V1Pod[] pods) =>
        EvictionRanking.RankMemoryPressure(pods, _stats.Pods).Select(p => p.Metadata.Name).ToList();

    [Fact]
    public void A_pod_over_its_memory_request_goes_before_one_under_it_whatever_their_usage()
    {
        // TestOrderedByExceedsRequestMemory: below-requests uses more in absolute terms but stays within its request.
        var below = Pod("below-requests", "500Mi", "500Mi");
        var above = Pod("above-requests", "100Mi", "200Mi");
        _stats.SetPod(below, 499 * Mi);
        _stats.SetPod(above, 101 * Mi);
        Assert.Equal(["above-requests", "below-requests"], Memory(below, above));
    }

    [Fact]
    public void Among_pods_over_their_requests_the_lower_priority_goes_first()
    {
        // TestOrderedByPriority
        var low = Pod("low-priority", priority: 1);
        var mid = Pod("mid-priority", priority: 2);
        var high = Pod("high-priority", priority: 3);
        foreach (var p in new[] { low, mid, high }) _stats.SetPod(p, 100 * Mi);
        Assert.Equal(["low-priority", "mid-priority", "high-priority"], Memory(high, mid, low));
    }

    [Fact]
    public void At_equal_priority_the_larger_usage_above_the_request_goes_first()
    {
        // TestOrderedbyMemory: best effort and burstable pods by usage minus request.
        var bestEffortHigh = Pod("best-effort-high");
        var bestEffortLow = Pod("best-effort-low");
        var burstableHigh = Pod("burstable-high", "100Mi", "1Gi");
        var burstableLow = Pod("burstable-low", "100Mi", "1Gi");
        _stats.SetPod(bestEffortHigh, 500 * Mi);
        _stats.SetPod(bestEffortLow, 300 * Mi);
        _stats.SetPod(burstableHigh, 800 * Mi);
        _stats.SetPod(burstableLow, 300 * Mi);
        Assert.Equal(["burstable-high", "best-effort-high", "best-effort-low", "burstable-low"],
            Memory(bestEffortLow, burstableLow, bestEffortHigh, burstableHigh));
    }

    [Fact]
    public void A_pod_without_stats_goes_first_and_equal_pods_keep_their_order()
    {
        var measured = Pod("measured");
        var unmeasured = Pod("unmeasured", priority: 1000);
        var twinA = Pod("twin-a");
        var twinB = Pod("twin-b");
        _stats.SetPod(measured, 900 * Mi);
        _stats.SetPod(twinA, 10 * Mi);
        _stats.SetPod(twinB, 10 * Mi);
        Assert.Equal(["unmeasured", "measured", "twin-a", "twin-b"], Memory(twinA, measured, twinB, unmeasured));
    }

    [Fact]
    public void Disk_ranking_counts_rootfs_logs_and_local_volumes_on_a_shared_fs_and_rootfs_alone_for_a_dedicated_imagefs()
    {
        var logs = Pod("logs");
        var root = Pod("root");
        _stats.SetPod(logs, 0, rootfs: 1 * Mi, logs: 500 * Mi);
        _stats.SetPod(root, 0, rootfs: 300 * Mi, logs: 0);
        Assert.Equal(["logs", "root"], EvictionRanking.Rank("nodefs.available", false, [root, logs], _stats.Pods).Select(p => p.Metadata.Name));
        Assert.Equal(["root", "logs"], EvictionRanking.Rank("imagefs.available", true, [logs, root], _stats.Pods).Select(p => p.Metadata.Name));
        Assert.Equal(["logs", "root"], EvictionRanking.Rank("nodefs.available", true, [root, logs], _stats.Pods).Select(p => p.Metadata.Name));
    }

    [Fact]
    public void Pid_ranking_is_by_priority_then_process_count()
    {
        var few = Pod("few");
        var many = Pod("many");
        var important = Pod("important", priority: 10);
        _stats.SetPod(few, 0);
        _stats.SetPod(many, 0);
        _stats.SetPod(important, 0);
        _stats.Pods["uid-few"].ProcessStats = new KubeletPS.Core.Stats.ProcessStats { ProcessCount = 2 };
        _stats.Pods["uid-many"].ProcessStats = new KubeletPS.Core.Stats.ProcessStats { ProcessCount = 200 };
        _stats.Pods["uid-important"].ProcessStats = new KubeletPS.Core.Stats.ProcessStats { ProcessCount = 2000 };
        Assert.Equal(["many", "few", "important"], EvictionRanking.RankPidPressure([important, few, many], _stats.Pods).Select(p => p.Metadata.Name));
    }
}
