namespace KubeletPS.Core.Certificates.Rotation;

/// <summary>
/// When a kubelet certificate is renewed (client-go util/certificate certificate_manager.go nextRotationDeadline):
/// at a random point between 70 % and 90 % of its lifetime (notBefore..notAfter), so that nodes bootstrapped together
/// do not all renew at the same moment, and well before it expires.
/// </summary>
public static class CertificateRotationDeadline
{
    /// <summary>The earliest point of the window, as a fraction of the lifetime.</summary>
    public const double Earliest = 0.7;

    /// <summary>The latest point of the window: past it, rotation is overdue.</summary>
    public const double Latest = 0.9;

    /// <summary>
    /// notBefore + lifetime × (0.7 + 0.2 × <paramref name="jitter"/>), client-go's
    /// <c>wait.Jitter(total, 0.2) - total*0.3</c> with the random draw passed in (0 ≤ jitter &lt; 1).
    /// </summary>
    public static DateTimeOffset Next(DateTimeOffset notBefore, DateTimeOffset notAfter, double jitter)
    {
        if (jitter is < 0 or >= 1 || double.IsNaN(jitter)) throw new ArgumentOutOfRangeException(nameof(jitter), jitter, "The jitter is a fraction in [0, 1).");
        var lifetime = notAfter - notBefore;
        if (lifetime <= TimeSpan.Zero) return notBefore;
        return notBefore + TimeSpan.FromTicks((long)(lifetime.Ticks * (Earliest + (Latest - Earliest) * jitter)));
    }

    /// <summary>The point past which rotation is overdue (90 % of the lifetime).</summary>
    public static DateTimeOffset Overdue(DateTimeOffset notBefore, DateTimeOffset notAfter) =>
        notBefore + TimeSpan.FromTicks((long)((notAfter - notBefore).Ticks * Latest));
}
