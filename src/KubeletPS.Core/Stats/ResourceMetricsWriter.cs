using System.Globalization;
using System.Text;

namespace KubeletPS.Core.Stats;

/// <summary>
/// /metrics/resource as kubelet's resource metrics collector writes it
/// (pkg/kubelet/metrics/collectors/resource_metrics.go) in the Prometheus text format: the same
/// metric names, help texts with their stability, label names, values in core-seconds and bytes,
/// and the sample's time in milliseconds after each value. Families are sorted by name and samples
/// by label values, as the Prometheus registry gathers them.
/// </summary>
public static class ResourceMetricsWriter
{
    private sealed record Family(string Name, string Help, string Type, List<(string Labels, double Value, DateTimeOffset? Time)> Samples);

    /// <summary>The text for a summary (null: getting it failed, so only scrape_error=1 is written, as kubelet does).</summary>
    public static string Write(Summary? summary)
    {
        var families = new Dictionary<string, Family>(StringComparer.Ordinal);
        Family F(string name, string help, string type) =>
            families.TryGetValue(name, out var f) ? f : families[name] = new Family(name, help, type, []);
        var nodeCpu = F("node_cpu_usage_seconds_total", "[STABLE] Cumulative cpu time consumed by the node in core-seconds", "counter");
        var nodeMemory = F("node_memory_working_set_bytes", "[STABLE] Current working set of the node in bytes", "gauge");
        var containerStart = F("container_start_time_seconds", "[STABLE] Start time of the container since unix epoch in seconds", "gauge");
        var containerCpu = F("container_cpu_usage_seconds_total", "[STABLE] Cumulative cpu time consumed by the container in core-seconds", "counter");
        var containerMemory = F("container_memory_working_set_bytes", "[STABLE] Current working set of the container in bytes", "gauge");
        var podCpu = F("pod_cpu_usage_seconds_total", "[STABLE] Cumulative cpu time consumed by the pod in core-seconds", "counter");
        var podMemory = F("pod_memory_working_set_bytes", "[STABLE] Current working set of the pod in bytes", "gauge");
        var scrapeError = F("scrape_error", "[ALPHA] (Deprecated since 1.29.0) 1 if there was an error while getting container metrics, 0 otherwise", "gauge");
        var resourceScrapeError = F("resource_scrape_error", "[STABLE] 1 if there was an error while getting container metrics, 0 otherwise", "gauge");

        scrapeError.Samples.Add(("", summary is null ? 1 : 0, null));
        resourceScrapeError.Samples.Add(("", summary is null ? 1 : 0, null));
        if (summary is not null)
        {
            var node = summary.Node;
            if (node.Cpu?.UsageCoreNanoSeconds is { } nodeNanos) nodeCpu.Samples.Add(("", nodeNanos / 1e9, node.Cpu.Time));
            if (node.Memory?.WorkingSetBytes is { } nodeWs) nodeMemory.Samples.Add(("", nodeWs, node.Memory.Time));
            foreach (var pod in summary.Pods)
            {
                foreach (var c in pod.Containers)
                {
                    var labels = Labels(("container", c.Name), ("namespace", pod.PodRef.Namespace), ("pod", pod.PodRef.Name));
                    if (c.StartTime.ToUnixTimeSeconds() > 0) containerStart.Samples.Add((labels, (c.StartTime - DateTimeOffset.UnixEpoch).Ticks / 1e7, null));
                    if (c.Cpu?.UsageCoreNanoSeconds is { } cpu) containerCpu.Samples.Add((labels, cpu / 1e9, c.Cpu.Time));
                    if (c.Memory?.WorkingSetBytes is { } ws) containerMemory.Samples.Add((labels, ws, c.Memory.Time));
                }
                var podLabels = Labels(("namespace", pod.PodRef.Namespace), ("pod", pod.PodRef.Name));
                if (pod.Cpu?.UsageCoreNanoSeconds is { } podNanos) podCpu.Samples.Add((podLabels, podNanos / 1e9, pod.Cpu.Time));
                if (pod.Memory?.WorkingSetBytes is { } podWs) podMemory.Samples.Add((podLabels, podWs, pod.Memory.Time));
            }
        }

        var text = new StringBuilder();
        foreach (var family in families.Values.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            // A family without samples is not written at all (as a Prometheus registry does not).
            if (family.Samples.Count == 0) continue;
            text.Append("# HELP ").Append(family.Name).Append(' ').Append(family.Help).Append('\n');
            text.Append("# TYPE ").Append(family.Name).Append(' ').Append(family.Type).Append('\n');
            foreach (var (labels, value, time) in family.Samples.OrderBy(s => s.Labels, StringComparer.Ordinal))
            {
                text.Append(family.Name).Append(labels).Append(' ').Append(FormatValue(value));
                if (time is { } t) text.Append(' ').Append(t.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture));
                text.Append('\n');
            }
        }
        return text.ToString();
    }

    /// <summary>The content type kubelet answers /metrics/resource with.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private static string Labels(params (string Name, string Value)[] labels) =>
        "{" + string.Join(",", labels.Select(l => $"{l.Name}=\"{Escape(l.Value)}\"")) + "}";

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal)
        .Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>
    /// A value as Go's Prometheus client writes it (strconv 'g', shortest, which switches to the
    /// exponent form from 1e6 and below 1e-4): 1.0694656e+07 for 10694656, 123.456 for 123.456.
    /// </summary>
    public static string FormatValue(double value)
    {
        if (double.IsNaN(value)) return "NaN";
        if (double.IsPositiveInfinity(value)) return "+Inf";
        if (double.IsNegativeInfinity(value)) return "-Inf";
        if (value == 0) return "0";
        // The decimal exponent from "E16"; the shortest round-trip digits from "R".
        var r = value.ToString("E16", CultureInfo.InvariantCulture);
        var shortest = value.ToString("R", CultureInfo.InvariantCulture);
        var negative = value < 0;
        var exponent = int.Parse(r[(r.IndexOf('E') + 1)..], CultureInfo.InvariantCulture);
        var digits = Digits(shortest);
        string result;
        if (exponent < -4 || exponent >= 6)
        {
            var mantissa = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
            result = mantissa + "e" + (exponent < 0 ? "-" : "+") + Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture);
        }
        else if (exponent < 0)
        {
            result = "0." + new string('0', -exponent - 1) + digits;
        }
        else if (digits.Length <= exponent + 1)
        {
            result = digits + new string('0', exponent + 1 - digits.Length);
        }
        else
        {
            result = digits[..(exponent + 1)] + "." + digits[(exponent + 1)..];
        }
        return negative ? "-" + result : result;
    }

    /// <summary>The significant digits of a round-trip string (no sign, point, exponent or leading/trailing zeros).</summary>
    private static string Digits(string roundTrip)
    {
        var mantissa = roundTrip.TrimStart('-');
        var e = mantissa.IndexOfAny(['E', 'e']);
        if (e >= 0) mantissa = mantissa[..e];
        var digits = mantissa.Replace(".", "", StringComparison.Ordinal).TrimStart('0').TrimEnd('0');
        return digits.Length == 0 ? "0" : digits;
    }
}
