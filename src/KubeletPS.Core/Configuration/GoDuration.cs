using System.Globalization;
using System.Text;

namespace KubeletPS.Core.Configuration;

/// <summary>
/// Go's time.Duration text form, as metav1.Duration reads and writes it: "1m0s", "10s",
/// "300ms", "1h30m". Parsing follows time.ParseDuration (a sign, then number+unit pairs with
/// optional fractions; a bare "0"); formatting follows Duration.String. TimeSpan holds ticks
/// of 100 ns, so nanosecond remainders below a tick are dropped.
/// </summary>
public static class GoDuration
{
    private static readonly (string Unit, decimal Nanoseconds)[] Units =
    [
        ("ns", 1m), ("us", 1_000m), ("µs", 1_000m), ("μs", 1_000m), ("ms", 1_000_000m),
        ("s", 1_000_000_000m), ("m", 60_000_000_000m), ("h", 3_600_000_000_000m),
    ];

    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text)) return false;
        var s = text.AsSpan();
        var negative = false;
        if (s[0] is '-' or '+') { negative = s[0] == '-'; s = s[1..]; }
        if (s is "0") return true;
        if (s.IsEmpty) return false;
        decimal total = 0;
        while (!s.IsEmpty)
        {
            var i = 0;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            var number = s[..i];
            if (number.IsEmpty || number is "." || number.IndexOf('.') != number.LastIndexOf('.')) return false;
            if (!decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount)) return false;
            s = s[i..];
            var j = 0;
            while (j < s.Length && !char.IsAsciiDigit(s[j]) && s[j] != '.') j++;
            var unit = s[..j].ToString();
            s = s[j..];
            var factor = Array.Find(Units, u => u.Unit == unit).Nanoseconds;
            if (factor == 0) return false; // a missing or unknown unit, as Go rejects it
            total += amount * factor;
            if (total > (decimal)long.MaxValue) return false; // Go: "invalid duration" on overflow
        }
        var ticks = (long)decimal.Truncate(total / 100m);
        value = TimeSpan.FromTicks(negative ? -ticks : ticks);
        return true;
    }

    public static TimeSpan Parse(string text) =>
        TryParse(text, out var value) ? value : throw new FormatException($"'{text}' is not a duration (Go format, e.g. 1m0s, 10s, 300ms).");

    /// <summary>Formats like Go's Duration.String(): 0s, 300ms, 10s, 1m0s, 1h30m0s, 1.5s.</summary>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero) return "0s";
        var sb = new StringBuilder();
        var ticks = value.Ticks;
        if (ticks < 0) { sb.Append('-'); ticks = -ticks; }
        var nanoseconds = (decimal)ticks * 100m;
        if (nanoseconds < 1_000_000_000m)
        {
            // Below a second Go picks the largest unit that keeps a leading non-zero digit.
            var (unit, factor) = nanoseconds < 1_000m ? ("ns", 1m) : nanoseconds < 1_000_000m ? ("µs", 1_000m) : ("ms", 1_000_000m);
            sb.Append(Trim(nanoseconds / factor)).Append(unit);
            return sb.ToString();
        }
        var hours = (long)(nanoseconds / 3_600_000_000_000m);
        nanoseconds -= hours * 3_600_000_000_000m;
        var minutes = (long)(nanoseconds / 60_000_000_000m);
        nanoseconds -= minutes * 60_000_000_000m;
        if (hours > 0) sb.Append(hours.ToString(CultureInfo.InvariantCulture)).Append('h');
        if (hours > 0 || minutes > 0) sb.Append(minutes.ToString(CultureInfo.InvariantCulture)).Append('m');
        sb.Append(Trim(nanoseconds / 1_000_000_000m)).Append('s');
        return sb.ToString();
    }

    private static string Trim(decimal value)
    {
        var text = value.ToString("0.#########", CultureInfo.InvariantCulture);
        return text;
    }
}
