using KubeletPS.Core.Stats;

namespace KubeletPS.Core.Tests.Stats;

public sealed class CpuUsageCacheTests
{
    private const long Second = 1_000_000_000;

    /// <summary>Samples (time in s, cumulative core-ns) → the rate each update returns (null: no rate).</summary>
    public static TheoryData<(long T, ulong Usage)[], ulong?[]> Sequences => new()
    {
        // First sample: no rate; then half a core over 10 s; then two cores.
        { [(0, 0), (10, 5 * (ulong)Second), (20, 25 * (ulong)Second)], [null, 500_000_000, 2_000_000_000] },
        // The counter went back (a new container under the same key): no rate, then it starts over from there.
        { [(0, 10 * (ulong)Second), (10, 1 * (ulong)Second), (20, 2 * (ulong)Second)], [null, null, 100_000_000] },
        // The same timestamp twice: the rate known so far, not a division by zero.
        { [(0, 0), (10, (ulong)Second), (10, (ulong)Second)], [null, 100_000_000, 100_000_000] },
        // Idle: zero, which is a rate (not "unknown").
        { [(0, 7), (5, 7)], [null, 0] },
    };

    [Theory]
    [MemberData(nameof(Sequences))]
    public void Update_ComputesTheRateBetweenSamples((long T, ulong Usage)[] samples, ulong?[] expected)
    {
        var cache = new CpuUsageCache();
        var rates = samples.Select(s => cache.Update("c", s.T * Second, s.Usage)).ToArray();
        Assert.Equal(expected, rates);
    }

    [Fact]
    public void Get_ReturnsTheLastRateWithoutMovingTheBaseline()
    {
        var cache = new CpuUsageCache();
        Assert.Null(cache.Get("c"));
        cache.Update("c", 0, 0);
        Assert.Null(cache.Get("c"));
        cache.Update("c", 10 * Second, 10 * (ulong)Second);
        Assert.Equal(1_000_000_000UL, cache.Get("c"));
        Assert.Equal(1_000_000_000UL, cache.Get("c"));
        // The next update measures from the last update, not from the reads.
        Assert.Equal(2_000_000_000UL, cache.Update("c", 20 * Second, 30 * (ulong)Second));
    }

    [Fact]
    public void Prune_DropsEntriesNotSampledWithinTheRetention()
    {
        var cache = new CpuUsageCache(TimeSpan.FromMinutes(10));
        cache.Update("old", 0, 1);
        cache.Update("new", 11 * 60 * Second, 1);
        cache.Prune(11 * 60 * Second);
        Assert.Equal(1, cache.Count);
        Assert.Null(cache.Get("old"));
    }
}
