using System.Globalization;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Server;

/// <summary>
/// Server-side printing (meta.k8s.io/v1 Table) for clients such as kubectl that ask with Accept "...;as=Table;g=meta.k8s.io;v=v1":
/// the columns of the built-in printers for nodes, pods, leases and events; NAME and AGE for the rest.
/// </summary>
public static class TableConvertor
{
    public static bool Wanted(string? accept) =>
        accept is not null && accept.Contains("as=Table", StringComparison.Ordinal) && accept.Contains("g=meta.k8s.io", StringComparison.Ordinal);

    public static JsonObject Convert(ResourceType type, IEnumerable<JsonObject> objects, string resourceVersion, string? includeObject, DateTimeOffset now)
    {
        var (columns, cells) = Columns(type);
        var rows = new JsonArray();
        foreach (var o in objects)
        {
            var row = new JsonObject { ["cells"] = new JsonArray(cells(o, now).Select(c => (JsonNode?)c).ToArray()) };
            switch (includeObject)
            {
                case "None": break;
                case "Object":
                    var full = (JsonObject)o.DeepClone();
                    full["kind"] = type.Kind;
                    full["apiVersion"] = type.ApiVersion;
                    row["object"] = full;
                    break;
                default:
                    row["object"] = new JsonObject
                    {
                        ["kind"] = "PartialObjectMetadata",
                        ["apiVersion"] = "meta.k8s.io/v1",
                        ["metadata"] = o["metadata"]?.DeepClone(),
                    };
                    break;
            }
            rows.Add(row);
        }
        return new JsonObject
        {
            ["kind"] = "Table",
            ["apiVersion"] = "meta.k8s.io/v1",
            ["metadata"] = new JsonObject { ["resourceVersion"] = resourceVersion },
            ["columnDefinitions"] = new JsonArray(columns.Select(c => (JsonNode)new JsonObject
            {
                ["name"] = c,
                ["type"] = "string",
                ["format"] = c == "Name" ? "name" : "",
                ["description"] = "",
                ["priority"] = 0,
            }).ToArray()),
            ["rows"] = rows,
        };
    }

    /// <summary>The CSR printer's condition column: Approved, Denied, Failed joined by commas, plus Issued; Pending when none.</summary>
    private static string CsrCondition(JsonObject o)
    {
        var conditions = (o["status"]?["conditions"] as JsonArray ?? []).Select(c => c?["type"]?.GetValue<string>() ?? "").Where(t => t.Length > 0).ToList();
        if (o["status"]?["certificate"] is not null) conditions.Add("Issued");
        return conditions.Count == 0 ? "Pending" : string.Join(",", conditions);
    }

    private static string HumanSeconds(long seconds) => seconds switch
    {
        < 120 => $"{seconds}s",
        < 7200 => $"{seconds / 60}m",
        < 172800 => $"{seconds / 3600}h",
        _ => $"{seconds / 86400}d",
    };

    private static (string[] Columns, Func<JsonObject, DateTimeOffset, JsonNode?[]> Cells) Columns(ResourceType type)
    {
        if (type == ResourceRegistry.Nodes)
            return (["Name", "Status", "Roles", "Age", "Version"], (o, now) =>
            [
                Name(o), NodeStatus(o), NodeRoles(o), Age(o, now),
                o["status"]?["nodeInfo"]?["kubeletVersion"]?.GetValue<string>() ?? "",
            ]);
        if (type == ResourceRegistry.Pods)
            return (["Name", "Ready", "Status", "Restarts", "Age"], (o, now) =>
            [
                Name(o), PodReady(o), PodStatus(o),
                (o["status"]?["containerStatuses"] as JsonArray ?? []).Sum(c => c?["restartCount"].AsInt64() ?? 0),
                Age(o, now),
            ]);
        if (type == ResourceRegistry.CertificateSigningRequests)
            return (["Name", "Age", "SignerName", "Requestor", "RequestedDuration", "Condition"], (o, now) =>
            [
                Name(o), Age(o, now), o["spec"]?["signerName"]?.GetValue<string>() ?? "", o["spec"]?["username"]?.GetValue<string>() ?? "",
                o["spec"]?["expirationSeconds"].AsInt64() is { } s ? HumanSeconds(s) : "<none>", CsrCondition(o),
            ]);
        if (type == ResourceRegistry.Leases)
            return (["Name", "Holder", "Age"], (o, now) => [Name(o), o["spec"]?["holderIdentity"]?.GetValue<string>() ?? "", Age(o, now)]);
        if (type == ResourceRegistry.Events)
            return (["Last Seen", "Type", "Reason", "Object", "Message"], (o, now) =>
            [
                Since(o["lastTimestamp"]?.GetValue<string>() ?? o["eventTime"]?.GetValue<string>() ?? o["metadata"]?["creationTimestamp"]?.GetValue<string>(), now),
                o["type"]?.GetValue<string>() ?? "",
                o["reason"]?.GetValue<string>() ?? "",
                $"{o["involvedObject"]?["kind"]?.GetValue<string>()?.ToLowerInvariant()}/{o["involvedObject"]?["name"]}",
                o["message"]?.GetValue<string>() ?? "",
            ]);
        if (type == ResourceRegistry.Namespaces)
            return (["Name", "Status", "Age"], (o, now) => [Name(o), o["status"]?["phase"]?.GetValue<string>() ?? "", Age(o, now)]);
        return (["Name", "Age"], (o, now) => [Name(o), Age(o, now)]);
    }

    private static string Name(JsonObject o) => o["metadata"]?["name"]?.GetValue<string>() ?? "";

    private static string Age(JsonObject o, DateTimeOffset now) => Since(o["metadata"]?["creationTimestamp"]?.GetValue<string>(), now);

    private static string Since(string? timestamp, DateTimeOffset now) =>
        DateTimeOffset.TryParse(timestamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? HumanDuration(now - t) : "<unknown>";

    /// <summary>The short durations kubectl prints (apimachinery's duration.HumanDuration).</summary>
    public static string HumanDuration(TimeSpan d)
    {
        var s = (long)Math.Max(0, d.TotalSeconds);
        if (s < 120) return $"{s}s";
        var m = s / 60;
        if (m < 10) return s % 60 == 0 ? $"{m}m" : $"{m}m{s % 60}s";
        if (m < 180) return $"{m}m";
        var h = m / 60;
        if (h < 8) return m % 60 == 0 ? $"{h}h" : $"{h}h{m % 60}m";
        if (h < 48) return $"{h}h";
        var days = h / 24;
        if (h < 192) return h % 24 == 0 ? $"{days}d" : $"{days}d{h % 24}h";
        return days < 365 * 2 ? $"{days}d" : $"{days / 365}y";
    }

    private static string NodeStatus(JsonObject node)
    {
        var ready = (node["status"]?["conditions"] as JsonArray ?? []).FirstOrDefault(c => c?["type"]?.GetValue<string>() == "Ready");
        var status = ready?["status"]?.GetValue<string>() switch { "True" => "Ready", "False" => "NotReady", _ => "Unknown" };
        if (node["spec"]?["unschedulable"]?.GetValue<bool>() == true) status += ",SchedulingDisabled";
        return status;
    }

    private static string NodeRoles(JsonObject node)
    {
        const string prefix = "node-role.kubernetes.io/";
        var roles = (node["metadata"]?["labels"] as JsonObject ?? []).Select(kv => kv.Key)
            .Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Select(k => k[prefix.Length..]).ToList();
        return roles.Count == 0 ? "<none>" : string.Join(",", roles);
    }

    private static string PodReady(JsonObject pod)
    {
        var total = (pod["spec"]?["containers"] as JsonArray)?.Count ?? 0;
        var ready = (pod["status"]?["containerStatuses"] as JsonArray ?? []).Count(c => c?["ready"]?.GetValue<bool>() == true);
        return $"{ready}/{total}";
    }

    private static string PodStatus(JsonObject pod)
    {
        if (pod["metadata"]?["deletionTimestamp"] is not null) return "Terminating";
        var waiting = (pod["status"]?["containerStatuses"] as JsonArray ?? [])
            .Select(c => c?["state"]?["waiting"]?["reason"]?.GetValue<string>()).FirstOrDefault(r => r is not null);
        return waiting ?? pod["status"]?["reason"]?.GetValue<string>() ?? pod["status"]?["phase"]?.GetValue<string>() ?? "Unknown";
    }
}
