namespace KubeletPS.Core.Metrics;

/// <summary>
/// The metrics the pod engine observes as it works, with kubelet's names, help, label names and buckets
/// (pkg/kubelet/metrics/metrics.go). One set per agent; the parts that observe get it through their options
/// (null: nothing is observed). What is true at scrape time (running pods, node name) is set by
/// <see cref="Server.Endpoints.KubeletMetrics"/>.
/// </summary>
public sealed class KubeletMetricSet
{
    /// <summary>kubelet's podStartupDurationBuckets.</summary>
    public static IReadOnlyList<double> PodStartupDurationBuckets { get; } =
        [0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600];

    public MetricsRegistry Registry { get; } = new();

    /// <summary>What /metrics/probes serves (kubelet's probe metrics registry: prober_probe_total and prober_probe_duration_seconds).</summary>
    public MetricsRegistry Probes { get; } = new();

    public KubeletMetricSet()
    {
        PodStartDuration = Registry.Register(new Histogram("kubelet_pod_start_duration_seconds",
            "[ALPHA] Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run", PodStartupDurationBuckets));
        PodWorkerDuration = Registry.Register(new Histogram("kubelet_pod_worker_duration_seconds",
            "[ALPHA] Duration in seconds to sync a single pod. Broken down by operation type: create, update, or sync", Histogram.DefaultBuckets, "operation_type"));
        PlegRelistDuration = Registry.Register(new Histogram("kubelet_pleg_relist_duration_seconds",
            "[ALPHA] Duration in seconds for relisting pods in PLEG.", Histogram.DefaultBuckets));
        PlegRelistInterval = Registry.Register(new Histogram("kubelet_pleg_relist_interval_seconds",
            "[ALPHA] Interval in seconds between relisting in PLEG.", Histogram.DefaultBuckets));
        StartedPods = Registry.Register(new Counter("kubelet_started_pods_total", "[ALPHA] Cumulative number of pods started"));
        StartedPodsErrors = Registry.Register(new Counter("kubelet_started_pods_errors_total", "[ALPHA] Cumulative number of errors when starting pods"));
        Evictions = Registry.Register(new Counter("kubelet_evictions", "[ALPHA] Cumulative number of pod evictions by eviction signal", "eviction_signal"));
        EvictionStatsAge = Registry.Register(new Histogram("kubelet_eviction_stats_age_seconds",
            "[ALPHA] Time between when stats are collected, and when pod is evicted based on those stats by eviction signal", Histogram.DefaultBuckets, "eviction_signal"));
        ImageGarbageCollected = Registry.Register(new Counter("kubelet_image_garbage_collected_total",
            "[ALPHA] Total number of images garbage collected by the kubelet, whether through disk usage or image age.", "reason"));
        ProbeTotal = Probes.Register(new Counter("prober_probe_total",
            "[ALPHA] Cumulative number of a liveness, readiness or startup probe for a container by result.", "probe_type", "result", "container", "pod", "namespace", "pod_uid"));
        ProbeDuration = Probes.Register(new Histogram("prober_probe_duration_seconds",
            "[ALPHA] Duration in seconds for a probe response.", Histogram.DefaultBuckets, "probe_type", "container", "pod", "namespace"));
    }

    /// <summary>Each probe run by result (successful, failed, unknown), as kubelet's probe worker counts it; a probe that could not run is not counted.</summary>
    public Counter ProbeTotal { get; }

    /// <summary>How long a probe took: observed for successful and unknown results, not for failed ones (as kubelet's worker).</summary>
    public Histogram ProbeDuration { get; }

    /// <summary>Observed once per pod: from its worker's creation (kubelet: the pod config's first-seen time) to the first status with phase Running.</summary>
    public Histogram PodStartDuration { get; }

    /// <summary>One pod sync, by kubelet's SyncPodType: create (a worker's first sync), update (after the pod changed), sync, kill.</summary>
    public Histogram PodWorkerDuration { get; }

    public Histogram PlegRelistDuration { get; }

    /// <summary>From the start of one relist to the start of the next.</summary>
    public Histogram PlegRelistInterval { get; }

    /// <summary>Pod sandboxes the agent asked the runtime to create (kubelet counts before RunPodSandbox).</summary>
    public Counter StartedPods { get; }

    /// <summary>RunPodSandbox calls that failed.</summary>
    public Counter StartedPodsErrors { get; }

    /// <summary>Pods the eviction manager evicted, by the signal (a threshold's, or a local storage limit's such as emptydirfs.limit).</summary>
    public Counter Evictions { get; }

    /// <summary>Before a threshold eviction, for each threshold met: how old the signal's observation is.</summary>
    public Histogram EvictionStatsAge { get; }

    /// <summary>Images image GC removed, by reason: age (unused past imageMaximumGCAge) or space (to get under the high threshold, or for disk pressure).</summary>
    public Counter ImageGarbageCollected { get; }
}
