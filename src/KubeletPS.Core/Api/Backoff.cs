namespace KubeletPS.Core.Api;

/// <summary>
/// Exponential back-off with jitter, as client-go's wait.Backoff: each step doubles the delay
/// up to a cap, and a random fraction is added so that many nodes do not retry in lock-step.
/// </summary>
public sealed class Backoff(TimeSpan initial, TimeSpan cap, double jitter = 0.2, Random? random = null)
{
    private readonly Random _random = random ?? Random.Shared;
    private readonly TimeSpan _initial = initial;
    private TimeSpan _next = initial;

    public TimeSpan Next()
    {
        var current = _next;
        _next = TimeSpan.FromTicks(Math.Min(cap.Ticks, current.Ticks * 2));
        var withJitter = current + TimeSpan.FromTicks((long)(current.Ticks * jitter * _random.NextDouble()));
        return withJitter > cap ? cap : withJitter;
    }

    public void Reset() => _next = _initial;
}
