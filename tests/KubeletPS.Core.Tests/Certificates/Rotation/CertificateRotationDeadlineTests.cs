using KubeletPS.Core.Certificates.Rotation;

namespace KubeletPS.Core.Tests.Certificates.Rotation;

/// <summary>client-go nextRotationDeadline: a jittered 70–90 % of notBefore..notAfter, as a table, no clock.</summary>
public sealed class CertificateRotationDeadlineTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 28, 2, 54, 58, TimeSpan.Zero);

    [Theory]
    // lifetime, jitter, expected deadline after notBefore
    [InlineData("365.00:00:00", 0.0, "255.12:00:00")]      // 70 % of a year
    [InlineData("365.00:00:00", 0.5, "292.00:00:00")]      // 80 %
    [InlineData("365.00:00:00", 0.75, "310.06:00:00")]     // 85 %
    [InlineData("00:08:00", 0.0, "00:05:36")]              // a 3-minute certificate backdated 5 minutes: 8 minutes of lifetime
    [InlineData("00:08:00", 0.5, "00:06:24")]
    [InlineData("01:00:00", 0.25, "00:45:00")]             // 75 %
    public void The_deadline_is_notBefore_plus_70_to_90_percent_of_the_lifetime(string lifetime, double jitter, string expected)
    {
        var notAfter = Start + TimeSpan.Parse(lifetime, System.Globalization.CultureInfo.InvariantCulture);

        var deadline = CertificateRotationDeadline.Next(Start, notAfter, jitter);

        Assert.Equal(Start + TimeSpan.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), deadline);
    }

    [Theory]
    [InlineData("365.00:00:00")]
    [InlineData("00:08:00")]
    [InlineData("00:00:01")]
    public void Every_draw_falls_inside_the_window(string lifetime)
    {
        var total = TimeSpan.Parse(lifetime, System.Globalization.CultureInfo.InvariantCulture);
        foreach (var jitter in new[] { 0.0, 0.1, 0.33, 0.5, 0.77, 0.9999999 })
        {
            var deadline = CertificateRotationDeadline.Next(Start, Start + total, jitter);
            Assert.InRange(deadline, Start + total * 0.7, Start + total * 0.9);
        }
        Assert.Equal(Start + total * 0.9, CertificateRotationDeadline.Overdue(Start, Start + total));
    }

    [Fact]
    public void A_certificate_without_lifetime_is_due_at_once()
    {
        Assert.Equal(Start, CertificateRotationDeadline.Next(Start, Start, 0.5));
        Assert.Equal(Start, CertificateRotationDeadline.Next(Start, Start.AddDays(-1), 0.5));
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void A_jitter_outside_zero_to_one_is_refused(double jitter) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => CertificateRotationDeadline.Next(Start, Start.AddDays(1), jitter));
}
