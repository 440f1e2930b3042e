using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Server.Controllers;

/// <summary>
/// The part of kube-controller-manager's node lifecycle controller that taints nodes by condition
/// (pkg/controller/nodelifecycle, doNoScheduleTaintingPass): a node whose MemoryPressure, DiskPressure or
/// PIDPressure condition is True gets node.kubernetes.io/memory-pressure, disk-pressure or pid-pressure with
/// effect NoSchedule, and loses it when the condition is no longer True. The kubelet sets only the conditions;
/// the taints are the control plane's. Run inline after a node is written. The controller's other taints
/// (not-ready, unreachable, network-unavailable, unschedulable) are not made here.
/// </summary>
internal sealed class NodeLifecycleController(ObjectStore store)
{
    private static readonly (string Condition, string Taint)[] PressureTaints =
    [
        ("MemoryPressure", "node.kubernetes.io/memory-pressure"),
        ("DiskPressure", "node.kubernetes.io/disk-pressure"),
        ("PIDPressure", "node.kubernetes.io/pid-pressure"),
    ];

    /// <summary>Adds and removes the pressure taints of the node as its conditions say; returns the node as stored.</summary>
    public JsonObject AfterWrite(JsonObject node)
    {
        var name = node["metadata"]?["name"]?.GetValue<string>();
        if (name is null || Desired(node) is var desired && Current(node).SetEquals(desired)) return node;
        return store.Update(ResourceRegistry.Nodes, null, name, current =>
        {
            var wanted = Desired(current);
            var spec = current["spec"] as JsonObject ?? new JsonObject();
            current["spec"] = spec;
            var taints = new JsonArray();
            foreach (var taint in spec["taints"] as JsonArray ?? [])
            {
                var key = taint?["key"]?.GetValue<string>();
                var isPressure = PressureTaints.Any(p => p.Taint == key) && taint?["effect"]?.GetValue<string>() == "NoSchedule";
                if (!isPressure || wanted.Remove(key!)) taints.Add(taint!.DeepClone());
            }
            foreach (var key in wanted) taints.Add(new JsonObject { ["key"] = key, ["effect"] = "NoSchedule" });
            if (taints.Count > 0) spec["taints"] = taints;
            else spec.Remove("taints");
            // Only the node's own resourceVersion check applies: the controller writes what it just read.
            (current["metadata"] as JsonObject)?.Remove("resourceVersion");
            return current;
        });
    }

    private static HashSet<string> Desired(JsonObject node)
    {
        var conditions = node["status"]?["conditions"] as JsonArray ?? [];
        return PressureTaints.Where(p => conditions.Any(c => c?["type"]?.GetValue<string>() == p.Condition && c?["status"]?.GetValue<string>() == "True"))
            .Select(p => p.Taint).ToHashSet(StringComparer.Ordinal);
    }

    private static HashSet<string> Current(JsonObject node) =>
        (node["spec"]?["taints"] as JsonArray ?? [])
            .Where(t => t?["effect"]?.GetValue<string>() == "NoSchedule")
            .Select(t => t?["key"]?.GetValue<string>() ?? "")
            .Where(k => PressureTaints.Any(p => p.Taint == k)).ToHashSet(StringComparer.Ordinal);
}
