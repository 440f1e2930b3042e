using System.Text.Json.Nodes;

namespace KubeletPS.TestCluster.Server.Controllers;

/// <summary>
/// The node health half of kube-controller-manager's node lifecycle controller (pkg/controller/nodelifecycle,
/// monitorNodeHealth and tryUpdateNodeHealth): every monitor period it notes when it last saw a node's Ready heartbeat
/// (lastHeartbeatTime) or its Lease's renewTime change; a node not heard from for the grace period
/// (--node-monitor-grace-period, 40 s by default) gets its Ready, MemoryPressure, DiskPressure and PIDPressure
/// conditions set to Unknown ("NodeStatusUnknown", "Kubelet stopped posting node status.") and a NodeNotReady event
/// from node-controller. Taints and pod eviction are not done here.
/// </summary>
internal sealed class NodeHealthMonitor(Storage.ObjectStore store, TimeSpan gracePeriod, TimeSpan monitorPeriod, TimeProvider time) : IAsyncDisposable
{
    private static readonly string[] MonitoredConditions = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

    private readonly Dictionary<string, (string Heartbeat, string Renew, DateTimeOffset Probe)> _seen = new(StringComparer.Ordinal);
    private ControllerLoop? _loop;

    public void Start() => (_loop ??= new ControllerLoop(RunAsync)).Start();

    public async ValueTask DisposeAsync()
    {
        if (_loop is not null) await _loop.DisposeAsync();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            MonitorOnce();
            try
            {
                await Task.Delay(monitorPeriod, time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One monitor pass over every node.</summary>
    public void MonitorOnce()
    {
        var now = time.GetUtcNow();
        foreach (var node in store.List("nodes"))
        {
            var name = node["metadata"]?["name"]?.GetValue<string>();
            if (name is null) continue;
            var conditions = node["status"]?["conditions"] as JsonArray ?? [];
            var ready = conditions.FirstOrDefault(c => (string?)c?["type"] == "Ready");
            var heartbeat = (string?)ready?["lastHeartbeatTime"] ?? "";
            var renew = (string?)store.Get("leases", "kube-node-lease", name)?["spec"]?["renewTime"] ?? "";
            // The probe time is the controller's own clock at the moment it saw news, never the kubelet's timestamps.
            if (!_seen.TryGetValue(name, out var seen) || seen.Heartbeat != heartbeat || seen.Renew != renew) seen = (heartbeat, renew, now);
            _seen[name] = seen;
            if (ready is null || now <= seen.Probe + gracePeriod || (string?)ready["status"] == "Unknown") continue;
            MarkUnknown(name, now);
        }
    }

    private void MarkUnknown(string name, DateTimeOffset now)
    {
        var stamp = Storage.ObjectStore.FormatTime(now);
        store.Update("nodes", null, name, node =>
        {
            foreach (var condition in node["status"]?["conditions"] as JsonArray ?? [])
            {
                if (condition is not JsonObject c || !MonitoredConditions.Contains((string?)c["type"]) || (string?)c["status"] == "Unknown") continue;
                c["status"] = "Unknown";
                c["reason"] = "NodeStatusUnknown";
                c["message"] = "Kubelet stopped posting node status.";
                c["lastTransitionTime"] = stamp;
            }
        });
        store.Create("events", new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Event",
            ["metadata"] = new JsonObject { ["name"] = $"{name}.{now.ToUnixTimeMilliseconds():x}", ["namespace"] = "default" },
            ["involvedObject"] = new JsonObject { ["kind"] = "Node", ["name"] = name, ["apiVersion"] = "v1" },
            ["reason"] = "NodeNotReady",
            ["message"] = $"Node {name} status is now: NodeNotReady",
            ["type"] = "Normal",
            ["source"] = new JsonObject { ["component"] = "node-controller" },
            ["firstTimestamp"] = stamp,
            ["lastTimestamp"] = stamp,
            ["count"] = 1,
        });
    }
}
