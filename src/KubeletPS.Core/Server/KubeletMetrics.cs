using System.Globalization;
using System.Text;
using k8s.Models;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Server;

/// <summary>
/// /metrics in the Prometheus text format (version 0.0.4) with kubelet's own metric names for what the agent measures:
/// kubelet_node_name, kubelet_running_pods, kubelet_running_containers{container_state},
/// kubelet_runtime_operations_total / _errors_total{operation_type}, kubelet_runtime_operations_duration_seconds
/// (sum and count: the agent keeps totals per operation, not a distribution, so only the +Inf bucket is reported) and
/// kubelet_pleg_last_seen_seconds. Read from snapshots; nothing here takes the pod engine's locks.
/// </summary>
public sealed class KubeletMetrics(string nodeName, Func<IReadOnlyList<V1Pod>> pods, Func<RuntimeOperationStats?> runtimeOperations, Func<DateTimeOffset?> lastRelist)
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public string Render()
    {
        var text = new StringBuilder();
        Gauge(text, "kubelet_node_name", "[ALPHA] The node's name. The count is always 1.", [($"{{node=\"{Escape(nodeName)}\"}}", 1)]);
        var snapshot = pods();
        var running = snapshot.Count(p => p.Status?.Phase == "Running" || (p.Status?.ContainerStatuses ?? []).Any(c => c.State?.Running is not null));
        Gauge(text, "kubelet_running_pods", "[ALPHA] Number of pods that have a running pod sandbox", [("", running)]);
        var states = snapshot.SelectMany(p => (p.Status?.InitContainerStatuses ?? []).Concat(p.Status?.ContainerStatuses ?? []))
            .GroupBy(c => c.State?.Running is not null ? "running" : c.State?.Terminated is not null ? "exited" : c.State?.Waiting is not null ? "created" : "unknown")
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => ($"{{container_state=\"{g.Key}\"}}", (double)g.Count())).ToList();
        Gauge(text, "kubelet_running_containers", "[ALPHA] Number of containers currently running", states);
        var operations = runtimeOperations()?.Snapshot() ?? [];
        Counter(text, "kubelet_runtime_operations_total", "[ALPHA] Cumulative number of runtime operations by operation type.",
            operations.Select(o => (Label(o.Operation), (double)o.Calls)));
        Counter(text, "kubelet_runtime_operations_errors_total", "[ALPHA] Cumulative number of runtime operation errors by operation type.",
            operations.Select(o => (Label(o.Operation), (double)o.Errors)));
        const string duration = "kubelet_runtime_operations_duration_seconds";
        text.Append(CultureInfo.InvariantCulture, $"# HELP {duration} [ALPHA] Duration in seconds of runtime operations. Broken down by operation type.\n# TYPE {duration} histogram\n");
        foreach (var o in operations)
        {
            var type = Snake(o.Operation);
            text.Append(CultureInfo.InvariantCulture, $"{duration}_bucket{{operation_type=\"{type}\",le=\"+Inf\"}} {o.Calls}\n");
            text.Append(CultureInfo.InvariantCulture, $"{duration}_sum{{operation_type=\"{type}\"}} {o.Duration.TotalSeconds.ToString("R", CultureInfo.InvariantCulture)}\n");
            text.Append(CultureInfo.InvariantCulture, $"{duration}_count{{operation_type=\"{type}\"}} {o.Calls}\n");
        }
        if (lastRelist() is { } relisted)
            Gauge(text, "kubelet_pleg_last_seen_seconds", "[ALPHA] Timestamp in seconds when PLEG was last seen active.", [("", relisted.ToUnixTimeMilliseconds() / 1000.0)]);
        return text.ToString();
    }

    private static string Label(string operation) => $"{{operation_type=\"{Snake(operation)}\"}}";

    /// <summary>CRI method names as kubelet labels them: ListPodSandbox → list_podsandbox.</summary>
    internal static string Snake(string operation)
    {
        var s = new StringBuilder();
        foreach (var c in operation.Replace("PodSandbox", "Podsandbox", StringComparison.Ordinal))
        {
            if (char.IsUpper(c) && s.Length > 0) s.Append('_');
            s.Append(char.ToLowerInvariant(c));
        }
        return s.ToString();
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static void Gauge(StringBuilder text, string name, string help, IEnumerable<(string Labels, double Value)> samples) => Write(text, name, help, "gauge", samples);

    private static void Counter(StringBuilder text, string name, string help, IEnumerable<(string Labels, double Value)> samples) => Write(text, name, help, "counter", samples);

    private static void Write(StringBuilder text, string name, string help, string type, IEnumerable<(string Labels, double Value)> samples)
    {
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");
        foreach (var (labels, value) in samples) text.Append(CultureInfo.InvariantCulture, $"{name}{labels} {value.ToString("R", CultureInfo.InvariantCulture)}\n");
    }
}
