
using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.Core.Tests.Runtime.Remote;

public sealed class RuntimeOperationStatsTests
{
    [Fact]
    public void Counts_calls_errors_duration_and_the_most_in_flight()
    {
        var stats = new RuntimeOperationStats();
        stats.Begin("RunPodSandbox");
        stats.Begin("RunPodSandbox");
        stats.Record("RunPodSandbox", TimeSpan.FromMilliseconds(300), failed: false);
        stats.Begin("RunPodSandbox");
        stats.Record("RunPodSandbox", TimeSpan.FromMilliseconds(200), failed: true);
        stats.Record("RunPodSandbox", TimeSpan.FromMilliseconds(100), failed: false);
        stats.Begin("ListContainers");
        stats.Record("ListContainers", TimeSpan.FromMilliseconds(5), failed: false);

        var run = Assert.Single(stats.Snapshot(), t => t.Operation == "RunPodSandbox");
        Assert.Equal(3, run.Calls);
        Assert.Equal(1, run.Errors);
        Assert.Equal(TimeSpan.FromMilliseconds(600), run.Duration);
        Assert.Equal(2, run.MaxInFlight);
        Assert.Equal(1, Assert.Single(stats.Snapshot(), t => t.Operation == "ListContainers").MaxInFlight);
    }

    [Fact]
    public void Since_gives_the_calls_between_two_snapshots_busiest_first()
    {
        var stats = new RuntimeOperationStats();
        Call(stats, "Version", 1);
        var before = stats.Snapshot();
        Call(stats, "ListContainers", 3);
        Call(stats, "RunPodSandbox", 1);

        var since = RuntimeOperationStats.Since(stats.Snapshot(), before);
        Assert.Equal(["ListContainers", "RunPodSandbox"], since.Select(t => t.Operation));
        Assert.Equal(3, since[0].Calls);
    }

    private static void Call(RuntimeOperationStats stats, string operation, int times)
    {
        for (var i = 0; i < times; i++)
        {
            stats.Begin(operation);
            stats.Record(operation, TimeSpan.FromMilliseconds(1), failed: false);
        }
    }
}
