using System.Text.Json.Nodes;

namespace KubeletPS.TestCluster.Storage;

/// <summary>RFC 7386 JSON merge patch (application/merge-patch+json): objects merge, null deletes, everything else replaces.</summary>
public static class JsonMergePatch
{
    public static JsonNode? Apply(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject) return patch?.DeepClone();
        var result = target as JsonObject is { } t ? (JsonObject)t.DeepClone() : new JsonObject();
        foreach (var (key, value) in patchObject)
        {
            if (value is null) result.Remove(key);
            else result[key] = Apply(result[key], value);
        }
        return result;
    }
}

/// <summary>
/// Strategic merge patch (application/strategic-merge-patch+json): a merge patch in which the lists the Kubernetes
/// types mark with patchStrategy "merge" are merged element by element on their patchMergeKey instead of replaced.
/// The merge keys are the ones of the core types this server serves. Directives ($patch, $retainKeys,
/// $setElementOrder, $deleteFromPrimitiveList) are accepted and ignored.
/// </summary>
public static class StrategicMergePatch
{
    // Paths are field names from the object root, list elements transparent: spec.containers.env is the env of any container.
    private static readonly Dictionary<string, string> MergeKeys = new()
    {
        ["metadata.ownerReferences"] = "uid",
        ["spec.containers"] = "name",
        ["spec.initContainers"] = "name",
        ["spec.ephemeralContainers"] = "name",
        ["spec.containers.ports"] = "containerPort",
        ["spec.initContainers.ports"] = "containerPort",
        ["spec.containers.env"] = "name",
        ["spec.initContainers.env"] = "name",
        ["spec.containers.volumeMounts"] = "mountPath",
        ["spec.initContainers.volumeMounts"] = "mountPath",
        ["spec.volumes"] = "name",
        ["spec.imagePullSecrets"] = "name",
        ["spec.taints"] = "key",
        ["spec.hostAliases"] = "ip",
        ["status.conditions"] = "type",
        ["status.addresses"] = "type",
        // status.containerStatuses, initContainerStatuses and ephemeralContainerStatuses have no patch
        // strategy in the API types: a patch replaces them whole (merged by name, a container's state
        // would keep "waiting" beside "running").
        ["status.podIPs"] = "ip",
        ["status.hostIPs"] = "ip",
        ["status.volumesAttached"] = "name",
        ["secrets"] = "name",
    };

    // Lists of scalars with patchStrategy "merge": the patch's values are added to the existing ones.
    private static readonly HashSet<string> MergedScalarLists = ["metadata.finalizers"];

    public static JsonNode? Apply(JsonNode? target, JsonNode? patch) => Merge(target, patch, "");

    private static JsonNode? Merge(JsonNode? target, JsonNode? patch, string path)
    {
        if (patch is not JsonObject patchObject) return patch?.DeepClone();
        var result = target is JsonObject t ? (JsonObject)t.DeepClone() : new JsonObject();
        foreach (var (key, value) in patchObject)
        {
            if (key.StartsWith('$')) continue;
            var childPath = path.Length == 0 ? key : $"{path}.{key}";
            if (value is null) result.Remove(key);
            else if (value is JsonArray patchList && result[key] is JsonArray current && MergeKeys.TryGetValue(childPath, out var mergeKey))
                result[key] = MergeList(current, patchList, mergeKey, childPath);
            else if (value is JsonArray scalars && result[key] is JsonArray existing && MergedScalarLists.Contains(childPath))
            {
                var merged = (JsonArray)existing.DeepClone();
                foreach (var s in scalars)
                {
                    if (!merged.Any(m => JsonNode.DeepEquals(m, s))) merged.Add(s?.DeepClone());
                }
                result[key] = merged;
            }
            else if (value is JsonObject)
                result[key] = Merge(result[key], value, childPath);
            else
                result[key] = value.DeepClone();
        }
        return result;
    }

    private static JsonArray MergeList(JsonArray current, JsonArray patch, string mergeKey, string path)
    {
        var result = (JsonArray)current.DeepClone();
        foreach (var item in patch)
        {
            if (item is not JsonObject patchItem || patchItem[mergeKey] is not { } keyValue)
            {
                result.Add(item?.DeepClone());
                continue;
            }
            var match = result.OfType<JsonObject>().FirstOrDefault(e => JsonNode.DeepEquals(e[mergeKey], keyValue));
            if (patchItem["$patch"]?.GetValue<string>() == "delete")
            {
                if (match is not null) result.Remove(match);
                continue;
            }
            if (match is null)
            {
                result.Add(Merge(null, patchItem, path));
                continue;
            }
            var index = result.IndexOf(match);
            result[index] = Merge(match, patchItem, path);
        }
        return result;
    }
}
