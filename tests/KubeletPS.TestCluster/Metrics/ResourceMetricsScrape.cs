using System.Globalization;

namespace KubeletPS.TestCluster.Metrics;

/// <summary>One point of a counter or gauge: the value and the kubelet's sample time (ms in the text).</summary>
public readonly record struct MetricPoint(double Value, DateTimeOffset Time);

/// <summary>A container's CPU (cumulative core-seconds) and memory (working set) from one scrape, with its start time.</summary>
public sealed record ContainerPoint(string Namespace, string Pod, string Container, MetricPoint Cpu, MetricPoint Memory, double StartTime);

/// <summary>What metrics-server keeps of one scrape of a kubelet's /metrics/resource.</summary>
public sealed record NodeScrape(string Node, MetricPoint? Cpu, MetricPoint? Memory, IReadOnlyList<ContainerPoint> Containers)
{
    /// <summary>
    /// Parses the Prometheus text as metrics-server's decoder does: node_cpu_usage_seconds_total,
    /// node_memory_working_set_bytes, container_cpu_usage_seconds_total, container_memory_working_set_bytes and
    /// container_start_time_seconds; a container needs CPU and memory to count. Samples without a timestamp take <paramref name="scraped"/>.
    /// </summary>
    public static NodeScrape Parse(string node, string text, DateTimeOffset scraped)
    {
        MetricPoint? cpu = null, memory = null;
        var containerCpu = new Dictionary<(string, string, string), MetricPoint>();
        var containerMemory = new Dictionary<(string, string, string), MetricPoint>();
        var starts = new Dictionary<(string, string, string), double>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var brace = line.IndexOf('{');
            var close = brace < 0 ? -1 : line.IndexOf('}', brace);
            var name = brace < 0 ? line[..line.IndexOf(' ')] : line[..brace];
            var labels = brace < 0 ? new Dictionary<string, string>() : ParseLabels(line[(brace + 1)..close]);
            var rest = (close < 0 ? line[name.Length..] : line[(close + 1)..]).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (rest.Length == 0 || !double.TryParse(rest[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var value)) continue;
            var time = rest.Length > 1 && long.TryParse(rest[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms)
                ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : scraped;
            var point = new MetricPoint(value, time);
            var key = (labels.GetValueOrDefault("namespace", ""), labels.GetValueOrDefault("pod", ""), labels.GetValueOrDefault("container", ""));
            switch (name)
            {
                case "node_cpu_usage_seconds_total": cpu = point; break;
                case "node_memory_working_set_bytes": memory = point; break;
                case "container_cpu_usage_seconds_total": containerCpu[key] = point; break;
                case "container_memory_working_set_bytes": containerMemory[key] = point; break;
                case "container_start_time_seconds": starts[key] = value; break;
            }
        }
        var containers = containerCpu.Where(c => containerMemory.ContainsKey(c.Key))
            .Select(c => new ContainerPoint(c.Key.Item1, c.Key.Item2, c.Key.Item3, c.Value, containerMemory[c.Key], starts.GetValueOrDefault(c.Key)))
            .ToList();
        return new NodeScrape(node, cpu, memory, containers);
    }

    private static Dictionary<string, string> ParseLabels(string text)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        var i = 0;
        while (i < text.Length)
        {
            var eq = text.IndexOf('=', i);
            if (eq < 0) break;
            var key = text[i..eq].Trim(' ', ',');
            var value = new System.Text.StringBuilder();
            var j = eq + 2; // past ="
            for (; j < text.Length && text[j] != '"'; j++)
            {
                if (text[j] == '\\' && j + 1 < text.Length) { j++; value.Append(text[j] == 'n' ? '\n' : text[j]); }
                else value.Append(text[j]);
            }
            labels[key] = value.ToString();
            i = j + 1;
        }
        return labels;
    }
}
