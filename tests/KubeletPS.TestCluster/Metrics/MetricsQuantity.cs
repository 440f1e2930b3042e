using System.Globalization;

namespace KubeletPS.TestCluster.Metrics;

/// <summary>Quantities and durations written as metrics-server writes them (resource.Quantity canonical form, metav1.Duration).</summary>
public static class MetricsQuantity
{
    /// <summary>CPU from nanocores, as resource.NewScaledQuantity(n, -9) prints canonically: "1234567n", "250m", "2".</summary>
    public static string Cpu(long nanoCores)
    {
        if (nanoCores == 0) return "0";
        (long Divisor, string Suffix)[] scales = [(1_000_000_000, ""), (1_000_000, "m"), (1_000, "u"), (1, "n")];
        foreach (var (divisor, suffix) in scales)
        {
            if (nanoCores % divisor == 0) return (nanoCores / divisor).ToString(CultureInfo.InvariantCulture) + suffix;
        }
        return nanoCores.ToString(CultureInfo.InvariantCulture) + "n";
    }

    /// <summary>Memory from bytes, as a BinarySI quantity prints canonically: the largest binary suffix that divides it ("8Ki", "64Mi").</summary>
    public static string Memory(long bytes)
    {
        if (bytes == 0) return "0";
        string[] suffixes = ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"];
        for (var i = 0; i < suffixes.Length; i++)
        {
            var unit = 1L << (10 * (suffixes.Length - i));
            if (bytes % unit == 0) return (bytes / unit).ToString(CultureInfo.InvariantCulture) + suffixes[i];
        }
        return bytes.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Go's time.Duration.String(): "10.5s", "1m0.25s", "150ms".</summary>
    public static string Duration(TimeSpan duration)
    {
        if (duration == TimeSpan.Zero) return "0s";
        if (duration < TimeSpan.FromSeconds(1))
        {
            var ms = duration.TotalMilliseconds;
            return ms >= 1 ? ms.ToString("0.######", CultureInfo.InvariantCulture) + "ms" : (duration.Ticks / 10.0).ToString("0.###", CultureInfo.InvariantCulture) + "µs";
        }
        var text = "";
        if (duration.TotalHours >= 1) text += ((long)duration.TotalHours).ToString(CultureInfo.InvariantCulture) + "h";
        if (duration.TotalMinutes >= 1) text += duration.Minutes.ToString(CultureInfo.InvariantCulture) + "m";
        var seconds = duration.Seconds + duration.Ticks % TimeSpan.TicksPerSecond / (double)TimeSpan.TicksPerSecond;
        return text + seconds.ToString("0.#######", CultureInfo.InvariantCulture) + "s";
    }
}
