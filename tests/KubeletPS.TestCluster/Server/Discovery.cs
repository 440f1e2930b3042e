using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Server;

/// <summary>
/// The discovery documents (/api, /apis, /apis/GROUP, /api/v1, /apis/GROUP/VERSION) and /version, in their unaggregated
/// v1 form. Clients asking for aggregated discovery (apidiscovery.k8s.io/v2) get these with Content-Type application/json
/// and fall back, as they do against servers older than 1.26.
/// </summary>
public static class Discovery
{
    public const string GitVersion = "v1.32.0";

    public static JsonObject Version() => new()
    {
        ["major"] = "1",
        ["minor"] = "32",
        ["gitVersion"] = GitVersion,
        ["gitCommit"] = "70d3cc986aa8221cd1dfb1121852688902d3bf53",
        ["gitTreeState"] = "clean",
        ["buildDate"] = "2024-12-11T17:59:15Z",
        ["goVersion"] = "go1.23.3",
        ["compiler"] = "gc",
        ["platform"] = "linux/amd64",
    };

    public static JsonObject ApiVersions(string serverAddress) => new()
    {
        ["kind"] = "APIVersions",
        ["versions"] = new JsonArray("v1"),
        ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = serverAddress }),
    };

    public static JsonObject ApiGroupList() => new()
    {
        ["kind"] = "APIGroupList",
        ["apiVersion"] = "v1",
        ["groups"] = new JsonArray(GroupVersions.Where(gv => gv.Group.Length > 0).Select(gv => (JsonNode)GroupBody(gv.Group, gv.Version)).ToArray()),
    };

    public static JsonObject? ApiGroup(string group)
    {
        var gv = GroupVersions.FirstOrDefault(g => g.Group == group && group.Length > 0);
        if (gv.Group is null) return null;
        var body = GroupBody(gv.Group, gv.Version);
        body["kind"] = "APIGroup";
        body["apiVersion"] = "v1";
        return body;
    }

    public static JsonObject? ApiResourceList(string group, string version)
    {
        var types = Served.Where(t => t.Group == group && t.Version == version).ToList();
        if (types.Count == 0) return null;
        var resources = new JsonArray();
        foreach (var t in types)
        {
            var r = new JsonObject
            {
                ["name"] = t.Plural,
                ["singularName"] = t.Singular,
                ["namespaced"] = t.Namespaced,
                ["kind"] = t.Kind,
                ["verbs"] = new JsonArray(t.Verbs.Select(v => (JsonNode)v).ToArray()),
            };
            if (t.ShortNames.Count > 0) r["shortNames"] = new JsonArray(t.ShortNames.Select(s => (JsonNode)s).ToArray());
            if (t == ResourceRegistry.Pods || t == ResourceRegistry.Services) r["categories"] = new JsonArray("all");
            resources.Add(r);
            foreach (var (sub, verbs) in t.Subresources)
            {
                var s = new JsonObject
                {
                    ["name"] = $"{t.Plural}/{sub}",
                    ["singularName"] = "",
                    ["namespaced"] = t.Namespaced,
                    ["kind"] = sub == "token" ? "TokenRequest" : t.Kind,
                    ["verbs"] = new JsonArray(verbs.Select(v => (JsonNode)v).ToArray()),
                };
                if (sub == "token")
                {
                    s["group"] = "authentication.k8s.io";
                    s["version"] = "v1";
                }
                resources.Add(s);
            }
        }
        var list = new JsonObject { ["kind"] = "APIResourceList" };
        if (group.Length > 0) list["apiVersion"] = "v1";
        list["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}";
        list["resources"] = resources;
        return list;
    }

    /// <summary>The stored resources and metrics.k8s.io (metrics-server's, served by <see cref="Metrics.MetricsApi"/>).</summary>
    private static IEnumerable<ResourceType> Served => ResourceRegistry.All.Concat([Metrics.MetricsApi.NodeMetrics, Metrics.MetricsApi.PodMetrics]);

    private static IEnumerable<(string Group, string Version)> GroupVersions => Served.Select(t => (t.Group, t.Version)).Distinct();

    private static JsonObject GroupBody(string group, string version)
    {
        var gv = new JsonObject { ["groupVersion"] = $"{group}/{version}", ["version"] = version };
        return new JsonObject
        {
            ["name"] = group,
            ["versions"] = new JsonArray(gv),
            ["preferredVersion"] = gv.DeepClone(),
        };
    }
}
