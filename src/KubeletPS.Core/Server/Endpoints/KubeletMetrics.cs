using System.Text;
using k8s.Models;
using KubeletPS.Core.Metrics;
using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.Core.Server.Endpoints;

/// <summary>
/// /metrics in the Prometheus text format (version 0.0.4) with kubelet's own metric names for what the agent has:
/// what the pod engine observes as it works (<see cref="KubeletMetricSet"/>: pod start and pod worker durations,
/// PLEG relist duration and interval, started pods), the CRI calls (<see cref="RuntimeOperationStats"/>:
/// kubelet_runtime_operations_total, _errors_total, _duration_seconds), the API requests
/// (<see cref="RestClientMetrics"/>) and, set when scraped, kubelet_node_name, kubelet_running_pods,
/// kubelet_running_containers{container_state} and kubelet_pleg_last_seen_seconds. Reads snapshots only;
/// nothing here takes the pod engine's locks.
/// </summary>
public sealed class KubeletMetrics
{
    public const string ContentType = MetricsRegistry.ContentType;

    private readonly string _nodeName;
    private readonly Func<IReadOnlyList<V1Pod>> _pods;
    private readonly Func<RuntimeOperationStats?> _runtimeOperations;
    private readonly Func<DateTimeOffset?> _lastRelist;
    private readonly object _scrape = new();
    private readonly Gauge _nodeNameGauge = new("kubelet_node_name", "[ALPHA] The node's name. The count is always 1.", "node");
    private readonly Gauge _runningPods = new("kubelet_running_pods", "[ALPHA] Number of pods that have a running pod sandbox");
    private readonly Gauge _runningContainers = new("kubelet_running_containers", "[ALPHA] Number of containers currently running", "container_state");
    private readonly Gauge _plegLastSeen = new("kubelet_pleg_last_seen_seconds", "[ALPHA] Timestamp in seconds when PLEG was last seen active.");

    public KubeletMetrics(string nodeName, Func<IReadOnlyList<V1Pod>> pods, Func<RuntimeOperationStats?> runtimeOperations, Func<DateTimeOffset?> lastRelist,
        KubeletMetricSet? observed = null)
    {
        _nodeName = nodeName;
        _pods = pods;
        _runtimeOperations = runtimeOperations;
        _lastRelist = lastRelist;
        Observed = observed ?? new KubeletMetricSet();
    }

    /// <summary>The families the pod engine observes into (given to the engine's parts by the agent).</summary>
    public KubeletMetricSet Observed { get; }

    public string Render()
    {
        var families = new List<MetricFamily>(Observed.Registry.Families) { RestClientMetrics.Requests, _nodeNameGauge, _runningPods, _runningContainers, _plegLastSeen };
        families.AddRange(_runtimeOperations()?.Families ?? []);
        var text = new StringBuilder();
        // Scrapes are serialized: each sets the gauges to what is true now, then writes them.
        lock (_scrape)
        {
            _nodeNameGauge.Reset();
            _nodeNameGauge.Set(1, _nodeName);
            var snapshot = _pods();
            _runningPods.Set(snapshot.Count(p => p.Status?.Phase == "Running" || (p.Status?.ContainerStatuses ?? []).Any(c => c.State?.Running is not null)));
            _runningContainers.Reset();
            foreach (var state in snapshot.SelectMany(p => (p.Status?.InitContainerStatuses ?? []).Concat(p.Status?.ContainerStatuses ?? []))
                .GroupBy(c => c.State?.Running is not null ? "running" : c.State?.Terminated is not null ? "exited" : c.State?.Waiting is not null ? "created" : "unknown"))
                _runningContainers.Set(state.Count(), state.Key);
            _plegLastSeen.Reset();
            if (_lastRelist() is { } relisted) _plegLastSeen.Set(relisted.ToUnixTimeMilliseconds() / 1000.0);
            MetricsRegistry.Write(text, families);
        }
        return text.ToString();
    }
}
