using KubeletPS.Core.Configuration;
using KubeletPS.Core.Pods.Eviction;

namespace KubeletPS.Core.Tests.Pods.Eviction;

/// <summary>kubelet's ParseThresholdConfig cases: quantities, percentages, soft grace periods, minimum reclaim, allocatable copies, bad values.</summary>
public sealed class EvictionThresholdParserTests
{
    private static Dictionary<string, string> Map(params (string Key, string Value)[] pairs) => pairs.ToDictionary(p => p.Key, p => p.Value);

    [Fact]
    public void Hard_soft_grace_periods_and_minimum_reclaim_parse_as_kubelet()
    {
        var thresholds = EvictionThresholdParser.Parse(
            Map(("memory.available", "150Mi"), ("nodefs.available", "10%")),
            Map(("memory.available", "300Mi")),
            Map(("memory.available", "1m30s")),
            Map(("memory.available", "0"), ("nodefs.available", "500Mi")),
            enforceNodeAllocatable: []);

        Assert.Equal(
        [
            new EvictionThreshold("memory.available", new ThresholdValue(150L << 20, 0), MinReclaim: new ThresholdValue(0, 0)),
            new EvictionThreshold("nodefs.available", new ThresholdValue(null, 0.1f), MinReclaim: new ThresholdValue(500L << 20, 0)),
            new EvictionThreshold("memory.available", new ThresholdValue(300L << 20, 0), TimeSpan.FromSeconds(90), new ThresholdValue(0, 0)),
        ], thresholds);
        Assert.True(thresholds[0].IsHard);
        Assert.False(thresholds[2].IsHard);
    }

    [Fact]
    public void Pods_in_enforceNodeAllocatable_copy_hard_memory_thresholds_to_allocatableMemory()
    {
        var thresholds = EvictionThresholdParser.Parse(Map(("memory.available", "100Mi")), Map(("memory.available", "1Gi")),
            Map(("memory.available", "30s")), null, ["pods"]);
        Assert.Equal(["memory.available", "memory.available", "allocatableMemory.available"], thresholds.Select(t => t.Signal));
        Assert.True(thresholds[2].IsHard);
        Assert.Equal(100L << 20, thresholds[2].Value.Quantity);
    }

    [Fact]
    public void Zero_and_hundred_percent_are_ignored() =>
        Assert.Empty(EvictionThresholdParser.Parse(Map(("nodefs.available", "0%"), ("imagefs.available", "100%")), null, null, null, []));

    [Fact]
    public void A_percentage_resolves_against_the_capacity_as_kubelet_rounds_it()
    {
        // float64(capacity) * float64(float32(0.1)), truncated: a little over a tenth, as kubelet computes it.
        Assert.Equal(107374184L, new ThresholdValue(null, 0.1f).Resolve(1073741824L));
        Assert.Equal(5L, new ThresholdValue(5, 0).Resolve(1000));
    }

    [Theory]
    [InlineData("evictionSoft", "memory.available", "abc", "evictionSoft[\"memory.available\"]: \"abc\" is not a quantity or percentage")]
    [InlineData("evictionHard", "memory.available", "-1Mi", "evictionHard[\"memory.available\"]: eviction threshold memory.available must be positive: -1Mi")]
    [InlineData("evictionHard", "memory.available", "0", "evictionHard[\"memory.available\"]: eviction threshold memory.available must be positive: 0")]
    [InlineData("evictionHard", "nodefs.available", "120%", "evictionHard[\"nodefs.available\"]: eviction percentage threshold nodefs.available must be <= 100%: 120%")]
    [InlineData("evictionHard", "nodefs.available", "-5%", "evictionHard[\"nodefs.available\"]: eviction percentage threshold nodefs.available must be >= 0%: -5%")]
    [InlineData("evictionHard", "nodefs.available", "x%", "evictionHard[\"nodefs.available\"]: \"x%\" is not a quantity or percentage")]
    [InlineData("evictionHard", "memory.free", "1Gi", "evictionHard[\"memory.free\"]: unsupported eviction signal memory.free")]
    [InlineData("evictionMinimumReclaim", "memory.available", "-1Mi", "evictionMinimumReclaim[\"memory.available\"]: negative eviction minimum reclaim specified for memory.available")]
    [InlineData("evictionMinimumReclaim", "nodefs.available", "0%", "evictionMinimumReclaim[\"nodefs.available\"]: eviction percentage minimum reclaim nodefs.available must be positive: 0%")]
    [InlineData("evictionSoftGracePeriod", "memory.available", "soon", "evictionSoftGracePeriod[\"memory.available\"]: \"soon\" is not a duration (e.g. \"1m30s\")")]
    [InlineData("evictionSoftGracePeriod", "memory.available", "-1s", "evictionSoftGracePeriod[\"memory.available\"]: invalid eviction grace period specified: -1s, must be a positive value")]
    public void A_bad_value_fails_with_the_field_key_and_kubelets_reason(string field, string signal, string value, string message)
    {
        var config = new KubeletConfiguration
        {
            EvictionHard = field == "evictionHard" ? Map((signal, value)) : [],
            EvictionSoft = field == "evictionSoft" ? Map((signal, value)) : [],
            EvictionSoftGracePeriod = field == "evictionSoftGracePeriod" ? Map((signal, value)) : [],
            EvictionMinimumReclaim = field == "evictionMinimumReclaim" ? Map((signal, value)) : [],
        };
        var e = Assert.Throws<KubeletConfigException>(() => EvictionThresholdParser.Parse(config, "/var/lib/kubelet/config.yaml"));
        Assert.Equal("/var/lib/kubelet/config.yaml: " + message, e.Message);
        Assert.Equal($"{field}[\"{signal}\"]", e.Field);
    }

    [Fact]
    public void A_soft_threshold_without_a_grace_period_is_refused_as_kubelet_refuses_it()
    {
        var e = Assert.Throws<KubeletConfigException>(() => EvictionThresholdParser.Parse(null, Map(("memory.available", "1Gi")), null, null, []));
        Assert.Equal("evictionSoftGracePeriod: grace period must be specified for the soft eviction threshold memory.available", e.Message);
    }

    [Fact]
    public void The_config_from_a_file_carries_the_transition_period_and_max_pod_grace_period()
    {
        var parsed = KubeletConfigurationFile.ParseWithAudit("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n" +
            "evictionHard:\n  memory.available: 200Mi\nevictionPressureTransitionPeriod: 30s\nevictionMaxPodGracePeriod: 20\n", "/etc/kubelet/config.yaml", null);
        var config = EvictionConfig.FromConfiguration(parsed.Configuration);
        Assert.Equal(TimeSpan.FromSeconds(30), config.PressureTransitionPeriod);
        Assert.Equal(20, config.MaxPodGracePeriodSeconds);
        // enforceNodeAllocatable defaults to [pods]: the allocatable copy is there too.
        Assert.Equal(["memory.available", "allocatableMemory.available"], config.Thresholds.Select(t => t.Signal));
    }
}
