using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Server;

/// <summary>
/// A skeletal OpenAPI v3 (/openapi/v3 and /openapi/v3/api/v1 …): the paths with their x-kubernetes-group-version-kind and the
/// fieldValidation query parameter, which is what kubectl reads to decide that the server validates fields itself
/// (so create/apply send fieldValidation=Strict instead of downloading schemas). There are no schemas.
/// </summary>
public static class OpenApi
{
    public static JsonObject Root()
    {
        var paths = new JsonObject();
        foreach (var (group, version) in ResourceRegistry.GroupVersions)
        {
            var key = GroupVersionPath(group, version);
            paths[key] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{key}?hash={Discovery.GitVersion}" };
        }
        return new JsonObject { ["paths"] = paths };
    }

    public static JsonObject? GroupVersion(string path)
    {
        var gv = ResourceRegistry.GroupVersions.FirstOrDefault(g => GroupVersionPath(g.Group, g.Version) == path);
        if (gv.Group is null) return null;
        var paths = new JsonObject();
        foreach (var t in ResourceRegistry.All.Where(t => t.Group == gv.Group && t.Version == gv.Version))
        {
            var prefix = "/" + GroupVersionPath(t.Group, t.Version) + (t.Namespaced ? "/namespaces/{namespace}" : "");
            var gvk = new JsonObject { ["group"] = t.Group, ["version"] = t.Version, ["kind"] = t.Kind };
            paths[$"{prefix}/{t.Plural}"] = new JsonObject
            {
                ["post"] = Operation("create" + t.Kind, gvk),
                ["parameters"] = Parameters(),
            };
            paths[$"{prefix}/{t.Plural}/{{name}}"] = new JsonObject
            {
                ["get"] = Operation("read" + t.Kind, gvk),
                ["put"] = Operation("replace" + t.Kind, gvk),
                ["patch"] = Operation("patch" + t.Kind, gvk),
                ["delete"] = Operation("delete" + t.Kind, gvk),
                ["parameters"] = Parameters(),
            };
        }
        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = Discovery.GitVersion },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = new JsonObject() },
        };
    }

    private static string GroupVersionPath(string group, string version) => group.Length == 0 ? $"api/{version}" : $"apis/{group}/{version}";

    private static JsonObject Operation(string id, JsonObject gvk) => new()
    {
        ["operationId"] = id,
        ["parameters"] = Parameters(),
        ["responses"] = new JsonObject { ["200"] = new JsonObject { ["description"] = "OK" } },
        ["x-kubernetes-group-version-kind"] = gvk.DeepClone(),
    };

    private static JsonArray Parameters() => new(
        new JsonObject { ["name"] = "fieldValidation", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string" } },
        new JsonObject { ["name"] = "dryRun", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string" } },
        new JsonObject { ["name"] = "fieldManager", ["in"] = "query", ["schema"] = new JsonObject { ["type"] = "string" } });
}
