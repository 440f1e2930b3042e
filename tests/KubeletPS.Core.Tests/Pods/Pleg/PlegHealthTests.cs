using KubeletPS.Core.Node;
using KubeletPS.Core.Pods.Pleg;
using KubeletPS.Core.Server.Endpoints;
using Microsoft.Extensions.Time.Testing;

namespace KubeletPS.Core.Tests.Pods.Pleg;

/// <summary>kubelet's PLEG health (relisted within 3m) in the Ready condition and /healthz, on a fake clock.</summary>
public sealed class PlegHealthTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.Parse("2026-12-01T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [InlineData(0, null)]
    [InlineData(180_000, null)]
    [InlineData(180_100, "pleg was last seen active 3m0.1s ago; threshold is 3m0s")]
    [InlineData(600_000, "pleg was last seen active 10m0s ago; threshold is 3m0s")]
    public void Relists_older_than_three_minutes_are_unhealthy(int elapsedMs, string? reason)
    {
        Assert.Equal(reason, PlegHealth.Check(Start, Start.AddMilliseconds(elapsedMs)));
    }

    [Fact]
    public void Before_the_first_relist_it_counts_as_healthy()
    {
        Assert.Null(PlegHealth.Check(null, Start));
    }

    private sealed class ReadyRuntime : IRuntimeHealthSource
    {
        public Task<RuntimeHealth> GetHealthAsync(CancellationToken cancellationToken) =>
            Task.FromResult(new RuntimeHealth { Reachable = true, RuntimeReady = true, NetworkReady = true, RuntimeName = "containerd", RuntimeVersion = "1.6.20" });
    }

    [Fact]
    public async Task A_stale_relist_makes_the_node_not_ready_with_kubelets_message_and_fails_healthz()
    {
        var clock = new FakeTimeProvider(Start);
        DateTimeOffset? lastRelist = Start;
        var source = new PlegHealthRuntimeSource(new ReadyRuntime(), () => lastRelist, clock);
        var builder = new NodeStatusBuilder(new NodeAgentOptions { NodeName = "n1" });
        var machine = NodeStatusBuilderMachine();
        var healthz = KubeletHealthChecks.ForSyncLoop(() => lastRelist, () => lastRelist, TimeSpan.FromMinutes(1), clock);

        var ready = builder.Conditions(machine, await source.GetHealthAsync(default), null, clock.GetUtcNow().UtcDateTime).Single(c => c.Type == "Ready");
        Assert.Equal("True", ready.Status);
        Assert.Equal(200, healthz.Evaluate("pleg", false).Status);

        clock.Advance(TimeSpan.FromMinutes(3) + TimeSpan.FromMilliseconds(100));
        ready = builder.Conditions(machine, await source.GetHealthAsync(default), null, clock.GetUtcNow().UtcDateTime).Single(c => c.Type == "Ready");
        Assert.Equal("False", ready.Status);
        Assert.Equal("KubeletNotReady", ready.Reason);
        Assert.Equal("PLEG is not healthy: pleg was last seen active 3m0.1s ago; threshold is 3m0s", ready.Message);
        var (status, _, failures) = healthz.Evaluate(null, false);
        Assert.Equal(500, status);
        Assert.Contains("pleg: pleg was last seen active 3m0.1s ago; threshold is 3m0s", failures);

        lastRelist = clock.GetUtcNow();
        ready = builder.Conditions(machine, await source.GetHealthAsync(default), null, clock.GetUtcNow().UtcDateTime).Single(c => c.Type == "Ready");
        Assert.Equal("True", ready.Status);
    }

    private static MachineInfo NodeStatusBuilderMachine() => new()
    {
        CpuCount = 2,
        MemoryCapacityBytes = 8L << 30,
        MemoryAvailableBytes = 4L << 30,
        FilesystemCapacityBytes = 100L << 30,
        FilesystemAvailableBytes = 50L << 30,
        FilesystemInodes = 1000000,
        FilesystemInodesFree = 900000,
        PidMax = 4194304,
        RunningProcesses = 100,
        Hostname = "n1",
        Architecture = "amd64",
        HugePages = new Dictionary<long, long>(),
        MachineId = "m",
        SystemUuid = "u",
        BootId = "b",
        KernelVersion = "6",
        OsImage = "Debian",
    };
}
