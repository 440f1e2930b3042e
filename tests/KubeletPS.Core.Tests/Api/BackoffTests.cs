using KubeletPS.Core.Api;

namespace KubeletPS.Core.Tests.Api;

public sealed class BackoffTests
{
    [Fact]
    public void Without_jitter_doubles_up_to_the_cap_and_starts_over_after_a_reset()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), jitter: 0);
        var seconds = Enumerable.Range(0, 7).Select(_ => backoff.Next().TotalSeconds).ToArray();
        Assert.Equal([1, 2, 4, 8, 16, 30, 30], seconds);
        backoff.Reset();
        Assert.Equal(TimeSpan.FromSeconds(1), backoff.Next());
    }

    [Fact]
    public void Jitter_adds_at_most_its_fraction_and_never_passes_the_cap()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(25), jitter: 0.5, new Random(7));
        var first = backoff.Next();
        Assert.InRange(first, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15));
        var second = backoff.Next();
        Assert.InRange(second, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(25));
        Assert.Equal(TimeSpan.FromSeconds(25), backoff.Next()); // the step reached the cap: jitter cannot lift it past
    }
}
