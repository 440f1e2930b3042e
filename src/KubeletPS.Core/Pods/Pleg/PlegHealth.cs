using KubeletPS.Core.Configuration;
using KubeletPS.Core.Node;

namespace KubeletPS.Core.Pods.Pleg;

/// <summary>
/// kubelet's GenericPLEG.Healthy: the last relist must be within the relist threshold (3m). Read by the
/// kubelet server's /healthz "pleg" check and by the Ready condition ("PLEG is not healthy: …").
/// Before the first relist it is taken as healthy (the agent registers its node before PLEG runs;
/// kubelet says "pleg has yet to be successful" then).
/// </summary>
public static class PlegHealth
{
    /// <summary>kubelet's relistThreshold.</summary>
    public static readonly TimeSpan RelistThreshold = TimeSpan.FromMinutes(3);

    /// <summary>Null when healthy, else kubelet's reason.</summary>
    public static string? Check(DateTimeOffset? lastRelist, DateTimeOffset now)
    {
        if (lastRelist is not { } relisted) return null;
        var elapsed = now - relisted;
        return elapsed > RelistThreshold
            ? $"pleg was last seen active {GoDuration.Format(elapsed)} ago; threshold is {GoDuration.Format(RelistThreshold)}"
            : null;
    }
}

/// <summary>
/// The node status's runtime health with the PLEG check added, as kubelet's runtimeState reports a failed
/// health check among the runtime errors that make Ready false.
/// </summary>
public sealed class PlegHealthRuntimeSource(IRuntimeHealthSource inner, Func<DateTimeOffset?> lastRelist, TimeProvider time) : IRuntimeHealthSource
{
    public async Task<RuntimeHealth> GetHealthAsync(CancellationToken cancellationToken)
    {
        var health = await inner.GetHealthAsync(cancellationToken).ConfigureAwait(false);
        return PlegHealth.Check(lastRelist(), time.GetUtcNow()) is { } reason
            ? health with { HealthCheckErrors = [.. health.HealthCheckErrors, $"PLEG is not healthy: {reason}"] }
            : health;
    }
}
