using KubeletPS.Core.Pods.Eviction;
using Microsoft.Extensions.Time.Testing;
using static KubeletPS.Core.Tests.Pods.Eviction.EvictionPods;

namespace KubeletPS.Core.Tests.Pods.Eviction;

/// <summary>kubelet's eviction Admit under each pressure, driven by fake observations (eviction_manager_test.go TestMemoryPressure, TestDiskPressureNodeFs admit cases).</summary>
public sealed class EvictionAdmissionTests
{
    private const long Gi = 1L << 30;
    private readonly FakeSignalSource _signals = new();

    private async Task<EvictionManager> UnderPressure(params string[] signals)
    {
        var hard = new Dictionary<string, string> { ["memory.available"] = "1Gi", ["nodefs.available"] = "1Gi", ["pid.available"] = "100" };
        var manager = new EvictionManager(new EvictionConfig { Thresholds = EvictionThresholdParser.Parse(hard, null, null, null, []) },
            _signals, new FakeTimeProvider(), NullKubeletLog.Instance);
        _signals.Set("memory.available", signals.Contains("memory.available") ? Gi / 2 : 4 * Gi, 8 * Gi);
        _signals.Set("nodefs.available", signals.Contains("nodefs.available") ? Gi / 2 : 40 * Gi, 80 * Gi);
        _signals.Set("pid.available", signals.Contains("pid.available") ? 50 : 30000, 32768);
        await manager.SynchronizeAsync([], null, new FakePodEvictor(), CancellationToken.None);
        return manager;
    }

    [Fact]
    public async Task Without_pressure_every_pod_is_admitted() =>
        Assert.True((await UnderPressure()).Admit(Pod("best-effort")).Admitted);

    [Fact]
    public async Task Under_memory_pressure_a_best_effort_pod_is_refused_with_kubelets_reason_and_message()
    {
        var manager = await UnderPressure("memory.available");
        var result = manager.Admit(Pod("best-effort"));
        Assert.False(result.Admitted);
        Assert.Equal("Evicted", result.Reason);
        Assert.Equal("The node had condition: [MemoryPressure]. ", result.Message);
        Assert.True(manager.Admit(Pod("burstable", "100Mi")).Admitted);
        Assert.True(manager.Admit(Pod("guaranteed", "100Mi", "100Mi")).Admitted);
    }

    [Fact]
    public async Task Under_memory_pressure_a_best_effort_pod_that_tolerates_the_memory_pressure_taint_is_admitted()
    {
        var manager = await UnderPressure("memory.available");
        Assert.True(manager.Admit(Pod("tolerant", tolerations: """[{"key":"node.kubernetes.io/memory-pressure","operator":"Exists","effect":"NoSchedule"}]""")).Admitted);
        Assert.False(manager.Admit(Pod("wrong-taint", tolerations: """[{"key":"node.kubernetes.io/disk-pressure","operator":"Exists","effect":"NoSchedule"}]""")).Admitted);
    }

    [Theory]
    [InlineData("nodefs.available", "The node had condition: [DiskPressure]. ")]
    [InlineData("pid.available", "The node had condition: [PIDPressure]. ")]
    public async Task Under_disk_or_pid_pressure_every_pod_but_a_critical_one_is_refused(string signal, string message)
    {
        var manager = await UnderPressure(signal);
        var result = manager.Admit(Pod("guaranteed", "100Mi", "100Mi"));
        Assert.False(result.Admitted);
        Assert.Equal(message, result.Message);
        Assert.True(manager.Admit(Pod("critical", priority: 2_000_000_000)).Admitted);
    }

    [Fact]
    public async Task Memory_and_disk_pressure_together_refuse_even_a_tolerant_best_effort_pod()
    {
        var manager = await UnderPressure("memory.available", "nodefs.available");
        var result = manager.Admit(Pod("tolerant", tolerations: """[{"key":"node.kubernetes.io/memory-pressure","operator":"Exists","effect":"NoSchedule"}]"""));
        Assert.False(result.Admitted);
        Assert.Equal("The node had condition: [MemoryPressure DiskPressure]. ", result.Message);
    }
}
