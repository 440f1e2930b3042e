using System.Text.Json.Nodes;

namespace KubeletPS.TestCluster.Storage;

/// <summary>
/// Per-type rules applied on create and update, after the registry strategies of kube-apiserver (PrepareForCreate,
/// PrepareForUpdate, defaulting): what a write may change and which fields the server fills in.
/// </summary>
public static class RestStrategy
{
    public static void PrepareForCreate(ResourceType type, JsonObject obj)
    {
        if (type == ResourceRegistry.Pods) PreparePod(obj);
        else if (type == ResourceRegistry.Namespaces)
        {
            obj["spec"] ??= new JsonObject { ["finalizers"] = new JsonArray("kubernetes") };
            obj["status"] = new JsonObject { ["phase"] = "Active" };
        }
        else if (type == ResourceRegistry.CertificateSigningRequests) obj.Remove("status");
        var labels = obj["metadata"]?["labels"];
        if (type == ResourceRegistry.Namespaces && obj["metadata"] is JsonObject meta)
        {
            // The NamespaceDefaultLabelName admission: every namespace carries its name as a label.
            var l = labels as JsonObject ?? new JsonObject();
            l["kubernetes.io/metadata.name"] = meta["name"]?.DeepClone();
            meta["labels"] = l;
        }
    }

    /// <summary>
    /// Combines the stored object and the written one for an update of <paramref name="subresource"/>:
    /// the main resource cannot change status (for types with a status subresource), /status changes only status,
    /// a CSR's /approval changes only status.conditions.
    /// </summary>
    public static JsonObject PrepareForUpdate(ResourceType type, string subresource, JsonObject old, JsonObject incoming)
    {
        switch (subresource)
        {
            case "" when type.HasStatus:
            {
                var result = (JsonObject)incoming.DeepClone();
                if (old["status"] is { } status) result["status"] = status.DeepClone();
                else result.Remove("status");
                return result;
            }
            case "":
                return (JsonObject)incoming.DeepClone();
            case "status":
            {
                var result = WithClientResourceVersion(old, incoming);
                if (incoming["status"] is { } status) result["status"] = status.DeepClone();
                else result.Remove("status");
                return result;
            }
            case "approval":
            {
                var result = WithClientResourceVersion(old, incoming);
                var status = result["status"] as JsonObject ?? new JsonObject();
                status["conditions"] = incoming["status"]?["conditions"]?.DeepClone();
                result["status"] = status;
                return result;
            }
            default:
                throw ApiException.MethodNotSupported(type, "update of " + subresource);
        }
    }

    private static JsonObject WithClientResourceVersion(JsonObject old, JsonObject incoming)
    {
        var result = (JsonObject)old.DeepClone();
        result["metadata"]!["resourceVersion"] = incoming["metadata"]?["resourceVersion"]?.DeepClone();
        // A UID in the written object is a precondition (the kubelet's status patch carries one); the store compares it.
        if (incoming["metadata"]?["uid"] is { } uid) result["metadata"]!["uid"] = uid.DeepClone();
        return result;
    }

    private static void PreparePod(JsonObject pod)
    {
        var spec = pod["spec"] as JsonObject ?? new JsonObject();
        pod["spec"] = spec;
        spec["restartPolicy"] ??= "Always";
        spec["terminationGracePeriodSeconds"] ??= 30;
        spec["dnsPolicy"] ??= "ClusterFirst";
        spec["schedulerName"] ??= "default-scheduler";
        spec["securityContext"] ??= new JsonObject();
        spec["enableServiceLinks"] ??= true;
        spec["priority"] ??= 0;
        foreach (var list in new[] { "initContainers", "containers" })
        {
            if (spec[list] is not JsonArray containers) continue;
            foreach (var c in containers.OfType<JsonObject>())
            {
                var image = c["image"]?.GetValue<string>() ?? "";
                var tagged = image.Contains('@') || (image.LastIndexOf(':') > image.LastIndexOf('/') && !image.EndsWith(":latest", StringComparison.Ordinal));
                c["imagePullPolicy"] ??= tagged ? "IfNotPresent" : "Always";
                c["terminationMessagePath"] ??= "/dev/termination-log";
                c["terminationMessagePolicy"] ??= "File";
                c["resources"] ??= new JsonObject();
            }
        }
        // PodStrategy.PrepareForCreate resets status: a new pod is Pending with its QoS class.
        pod["status"] = new JsonObject { ["phase"] = "Pending", ["qosClass"] = QosClass(spec) };
    }

    private static string QosClass(JsonObject spec)
    {
        var containers = (spec["containers"] as JsonArray ?? []).Concat(spec["initContainers"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var any = false;
        var guaranteed = containers.Count > 0;
        foreach (var c in containers)
        {
            var requests = c["resources"]?["requests"] as JsonObject;
            var limits = c["resources"]?["limits"] as JsonObject;
            if (requests is { Count: > 0 } || limits is { Count: > 0 }) any = true;
            foreach (var r in new[] { "cpu", "memory" })
            {
                var limit = limits?[r]?.ToString();
                var request = requests?[r]?.ToString() ?? limit;
                if (limit is null || request != limit) guaranteed = false;
            }
        }
        return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
    }
}
