using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Tests.Configuration;

public sealed class GoDurationTests
{
    [Theory]
    [InlineData("0", 0)]
    [InlineData("0s", 0)]
    [InlineData("10s", 10_000)]
    [InlineData("1m0s", 60_000)]
    [InlineData("1m", 60_000)]
    [InlineData("300ms", 300)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2h45m10.5s", 9_910_500)]
    [InlineData("-5s", -5_000)]
    [InlineData("1000us", 1)]
    [InlineData("1000µs", 1)]
    [InlineData("1000000ns", 1)]
    public void Parses_go_durations(string text, long milliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), GoDuration.Parse(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("10")]
    [InlineData("1d")]
    [InlineData("s")]
    [InlineData("1..2s")]
    [InlineData("5 s")]
    public void Rejects_what_go_rejects(string text)
    {
        Assert.False(GoDuration.TryParse(text, out _));
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(300, "300ms")]
    [InlineData(10_000, "10s")]
    [InlineData(60_000, "1m0s")]
    [InlineData(80_000, "1m20s")]
    [InlineData(120_000, "2m0s")]
    [InlineData(3_600_000, "1h0m0s")] // the runtime manager's own formatter printed "60m0s"
    [InlineData(5_400_000, "1h30m0s")]
    [InlineData(14_400_000, "4h0m0s")]
    [InlineData(1_500, "1.5s")]
    [InlineData(-5_000, "-5s")]
    public void Formats_like_go(long milliseconds, string expected)
    {
        Assert.Equal(expected, GoDuration.Format(TimeSpan.FromMilliseconds(milliseconds)));
    }

    [Fact]
    public void Round_trips()
    {
        foreach (var text in new[] { "1m0s", "10s", "300ms", "1h30m0s", "2.5s", "1µs" })
        {
            Assert.Equal(text, GoDuration.Format(GoDuration.Parse(text)));
        }
    }
}
