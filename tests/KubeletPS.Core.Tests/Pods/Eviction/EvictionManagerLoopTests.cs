using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Tests.Support;
using static KubeletPS.Core.Tests.Pods.Eviction.EvictionPods;

namespace KubeletPS.Core.Tests.Pods.Eviction;

/// <summary>The eviction manager's loop: a round that fails unexpectedly is logged and the next round runs, as kubelet's manager runs every interval.</summary>
public sealed class EvictionManagerLoopTests
{
    private const long Mi = 1L << 20;
    private const long Gi = 1L << 30;

    /// <summary>Observations that fail the first time with an exception no caller expects, then come from <see cref="FakeSignalSource"/>.</summary>
    private sealed class FailingOnceSignalSource(FakeSignalSource inner) : IEvictionSignalSource
    {
        private int _calls;

        public Task<bool> HasDedicatedImageFsAsync(CancellationToken cancellationToken) => inner.HasDedicatedImageFsAsync(cancellationToken);

        public Task<EvictionObservations> ObserveAsync(CancellationToken cancellationToken) =>
            Interlocked.Increment(ref _calls) == 1 ? throw new InvalidOperationException("a bug in the stats") : inner.ObserveAsync(cancellationToken);
    }

    [Fact]
    public async Task A_round_that_throws_unexpectedly_is_logged_and_the_next_round_still_evicts()
    {
        var signals = new FakeSignalSource();
        var hog = Pod("hog");
        signals.Set("memory.available", 100 * Mi, 8 * Gi);
        signals.SetPod(hog, 1536 * Mi);
        var config = new EvictionConfig
        {
            Thresholds = EvictionThresholdParser.Parse(new Dictionary<string, string> { ["memory.available"] = "1Gi" }, new Dictionary<string, string>(), new Dictionary<string, string>(), new Dictionary<string, string>(), []),
            MonitoringInterval = TimeSpan.FromMilliseconds(50),
        };
        var log = new RecordingLog();
        var manager = new EvictionManager(config, new FailingOnceSignalSource(signals), TimeProvider.System, log) { NodeName = "node-1" };
        var evictor = new FakePodEvictor();
        using var stop = new CancellationTokenSource();
        var run = manager.RunAsync(() => [hog], () => null, evictor, stop.Token);
        try
        {
            await TestApiClients.WaitUntilAsync(() => evictor.Evicted.Count > 0 || run.IsCompleted, "the hog evicted (or the loop ended)", 30);
            Assert.False(run.IsFaulted, run.Exception?.ToString());
            Assert.Equal("hog", Assert.Single(evictor.Evicted).Name);
            Assert.Contains(log.Lines, l => l.Level == KubeletLogLevel.Error && l.Message.Contains("eviction manager: failed to synchronize unexpectedly", StringComparison.Ordinal) && l.Message.Contains("a bug in the stats", StringComparison.Ordinal));
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }
    }
}
