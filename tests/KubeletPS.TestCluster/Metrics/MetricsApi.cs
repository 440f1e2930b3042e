using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Metrics;

/// <summary>
/// metrics.k8s.io/v1beta1 as metrics-server serves it, so that kubectl top works against the test cluster:
/// every <see cref="Resolution"/> each Node's kubelet /metrics/resource is scraped (through the API server's
/// kubelet client), the last two scrapes are kept, and NodeMetrics / PodMetrics are their difference: CPU as
/// the rate between the two cumulative samples (nanocores), memory as the latest working set, with the
/// window between them. A node or pod with fewer than two points has no metrics yet (NotFound), as in metrics-server.
/// The scraping starts with the first metrics.k8s.io request, so that the many test servers nobody asks for
/// metrics never scrape; kubectl top says "metrics not available yet" until two scrapes are in.
/// </summary>
public sealed class MetricsApi : IAsyncDisposable
{
    public const string Group = "metrics.k8s.io";
    public const string Version = "v1beta1";

    public static readonly ResourceType NodeMetrics = new(Group, Version, "nodes", "NodeMetrics", false) { Verbs = ["get", "list"] };
    public static readonly ResourceType PodMetrics = new(Group, Version, "pods", "PodMetrics", true) { Verbs = ["get", "list"] };

    private readonly ObjectStore _store;
    private readonly Func<string, CancellationToken, Task<string>> _scrape;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (NodeScrape? Previous, NodeScrape Last)> _points = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly object _startLock = new();
    private Task? _loop;

    /// <param name="scrape">GETs /metrics/resource of the named node's kubelet and returns the text.</param>
    public MetricsApi(ObjectStore store, Func<string, CancellationToken, Task<string>> scrape, TimeSpan resolution, TimeProvider? time = null)
    {
        _store = store;
        _scrape = scrape;
        _time = time ?? TimeProvider.System;
        Resolution = resolution;
    }


    /// <summary>metrics-server's --metric-resolution: how often the kubelets are scraped.</summary>
    public TimeSpan Resolution { get; }

    /// <summary>The last scrape error per node (what metrics-server logs), for tests and the log.</summary>
    public ConcurrentDictionary<string, string> Errors { get; } = new(StringComparer.Ordinal);

    public static bool Handles(string group) => group == Group;

    /// <summary>Starts the scrape loop once (the first request).</summary>
    public void EnsureScraping()
    {
        lock (_startLock) _loop ??= Task.Run(() => ScrapeLoopAsync(_stop.Token));
    }

    private async Task ScrapeLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Resolution, _time);
        do
        {
            var nodes = _store.List("nodes").Select(n => n["metadata"]?["name"]?.GetValue<string>() ?? "").Where(n => n.Length > 0).ToList();
            await Task.WhenAll(nodes.Select(n => ScrapeNodeAsync(n, cancellationToken))).ConfigureAwait(false);
            foreach (var gone in _points.Keys.Except(nodes).ToList()) _points.TryRemove(gone, out _);
        }
        while (await WaitAsync(timer, cancellationToken).ConfigureAwait(false));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try { return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false); }
        catch (OperationCanceledException) { return false; }
    }

    private async Task ScrapeNodeAsync(string node, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            var text = await _scrape(node, timeout.Token).ConfigureAwait(false);
            var scrape = NodeScrape.Parse(node, text, _time.GetUtcNow());
            // A scrape no newer than the last one (the kubelet served the same samples) keeps the two points there are.
            _points.AddOrUpdate(node, _ => (null, scrape), (_, old) => old.Last.Cpu?.Time >= scrape.Cpu?.Time ? old : (old.Last, scrape));
            Errors.TryRemove(node, out _);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException or ApiException)
        {
            if (cancellationToken.IsCancellationRequested) return;
            Errors[node] = e.Message;
        }
    }

    /// <summary>GET/LIST of nodes and pods in metrics.k8s.io/v1beta1; the selectors as kubectl top sends them.</summary>
    public JsonObject Handle(string verb, string resource, string? ns, string name, string? labelSelector, string? fieldSelector)
    {
        EnsureScraping();
        var type = resource switch { "nodes" => NodeMetrics, "pods" => PodMetrics, _ => throw ApiException.NotFound(NodeMetrics, resource) };
        if (verb is not ("get" or "list")) throw ApiException.MethodNotSupported(type, verb);
        var items = type == NodeMetrics ? NodeItems() : PodItems(ns);
        if (verb == "get")
        {
            return items.FirstOrDefault(i => i["metadata"]!["name"]!.GetValue<string>() == name)
                ?? throw ApiException.NotFound(type, name);
        }
        var labels = LabelSelector.Parse(labelSelector);
        var fields = FieldSelector.Parse(fieldSelector, type);
        var list = new JsonArray();
        foreach (var item in items.Where(i => labels.Matches(i) && fields.Matches(i))) list.Add(item);
        return new JsonObject
        {
            ["kind"] = type.ListKind,
            ["apiVersion"] = type.ApiVersion,
            ["metadata"] = new JsonObject(),
            ["items"] = list,
        };
    }

    private List<JsonObject> NodeItems()
    {
        var result = new List<JsonObject>();
        foreach (var node in _store.List("nodes"))
        {
            var name = node["metadata"]?["name"]?.GetValue<string>() ?? "";
            if (!_points.TryGetValue(name, out var p) || p.Previous is not { Cpu: { } before } || p.Last is not { Cpu: { } after, Memory: { } memory }) continue;
            if (after.Time <= before.Time || after.Value < before.Value) continue;
            result.Add(new JsonObject
            {
                ["kind"] = NodeMetrics.Kind,
                ["apiVersion"] = NodeMetrics.ApiVersion,
                ["metadata"] = Metadata(node, name, null),
                ["timestamp"] = ObjectStore.FormatTime(after.Time),
                ["window"] = MetricsQuantity.Duration(after.Time - before.Time),
                ["usage"] = Usage(Rate(before, after), memory.Value),
            });
        }
        return result;
    }

    private List<JsonObject> PodItems(string? ns)
    {
        var pods = _store.List("pods", ns).ToDictionary(p => (p["metadata"]?["namespace"]?.GetValue<string>() ?? "", p["metadata"]?["name"]?.GetValue<string>() ?? ""));
        var result = new List<JsonObject>();
        foreach (var (_, (previous, last)) in _points)
        {
            if (previous is null) continue;
            foreach (var group in last.Containers.GroupBy(c => (c.Namespace, c.Pod)))
            {
                if (!pods.TryGetValue(group.Key, out var pod)) continue;
                var containers = new JsonArray();
                DateTimeOffset? timestamp = null;
                TimeSpan window = TimeSpan.Zero;
                var complete = true;
                foreach (var c in group.OrderBy(c => c.Container, StringComparer.Ordinal))
                {
                    // The same container (same start time) in both scrapes, else no rate for it yet.
                    var before = previous.Containers.FirstOrDefault(b => b.Namespace == c.Namespace && b.Pod == c.Pod && b.Container == c.Container && b.StartTime == c.StartTime);
                    if (before is null || c.Cpu.Time <= before.Cpu.Time || c.Cpu.Value < before.Cpu.Value) { complete = false; break; }
                    timestamp = timestamp is { } t && t > c.Cpu.Time ? t : c.Cpu.Time;
                    window = c.Cpu.Time - before.Cpu.Time;
                    containers.Add(new JsonObject { ["name"] = c.Container, ["usage"] = Usage(Rate(before.Cpu, c.Cpu), c.Memory.Value) });
                }
                if (!complete || timestamp is null) continue;
                result.Add(new JsonObject
                {
                    ["kind"] = PodMetrics.Kind,
                    ["apiVersion"] = PodMetrics.ApiVersion,
                    ["metadata"] = Metadata(pod, group.Key.Pod, group.Key.Namespace),
                    ["timestamp"] = ObjectStore.FormatTime(timestamp.Value),
                    ["window"] = MetricsQuantity.Duration(window),
                    ["containers"] = containers,
                });
            }
        }
        return result.OrderBy(r => r["metadata"]!["namespace"]!.GetValue<string>(), StringComparer.Ordinal)
            .ThenBy(r => r["metadata"]!["name"]!.GetValue<string>(), StringComparer.Ordinal).ToList();
    }

    /// <summary>Core-seconds per second, in nanocores.</summary>
    private static long Rate(MetricPoint before, MetricPoint after) =>
        (long)((after.Value - before.Value) / (after.Time - before.Time).TotalSeconds * 1e9);

    private static JsonObject Usage(long nanoCores, double workingSetBytes) => new()
    {
        ["cpu"] = MetricsQuantity.Cpu(nanoCores),
        ["memory"] = MetricsQuantity.Memory((long)workingSetBytes),
    };

    /// <summary>The object's name, namespace and labels (kubectl top -l selects on them), and a creationTimestamp of now, as metrics-server writes it.</summary>
    private JsonObject Metadata(JsonObject source, string name, string? ns)
    {
        var metadata = new JsonObject { ["name"] = name };
        if (ns is not null) metadata["namespace"] = ns;
        metadata["creationTimestamp"] = ObjectStore.FormatTime(_time.GetUtcNow());
        if (source["metadata"]?["labels"] is JsonObject labels) metadata["labels"] = labels.DeepClone();
        return metadata;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        Task? loop;
        lock (_startLock) loop = _loop;
        if (loop is not null) await loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
