using System.Globalization;
using k8s.Models;
using KubeletPS.Core.Pods.KubeRuntime;

namespace KubeletPS.Core.Pods.Volumes;

/// <summary>
/// The values the downward API exposes, shared by env (<c>valueFrom</c>) and by downwardAPI and
/// projected volumes: the pod's metadata fields (fieldpath.ExtractFieldPathAsString) and a
/// container's requests and limits (resource.ExtractContainerResourceValue), where a limit the
/// container does not set is the node's allocatable amount (kubelet's MergeContainerResourceLimits).
/// </summary>
public static class DownwardApi
{
    /// <summary>A metadata field path's value, or null when <paramref name="path"/> is not one.</summary>
    public static string? MetadataField(V1Pod pod, string path)
    {
        switch (path)
        {
            case "metadata.name": return pod.Name();
            case "metadata.namespace": return pod.Namespace() ?? "default";
            case "metadata.uid": return pod.Metadata.Uid;
        }
        foreach (var (prefix, map) in new[] { ("metadata.labels", pod.Metadata.Labels), ("metadata.annotations", pod.Metadata.Annotations) })
        {
            if (path == prefix)
                return string.Join("\n", (map ?? new Dictionary<string, string>()).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}=\"{p.Value}\""));
            if (path.StartsWith(prefix + "['", StringComparison.Ordinal) && path.EndsWith("']", StringComparison.Ordinal))
                return map is not null && map.TryGetValue(path[(prefix.Length + 2)..^2], out var value) ? value : "";
        }
        return null;
    }

    /// <summary>
    /// A resourceFieldRef of a downwardAPI volume item, which names its container
    /// (ExtractResourceValueByContainerNameAndNodeAllocatable).
    /// </summary>
    public static string ResourceField(V1Pod pod, V1ResourceFieldSelector selector, IReadOnlyDictionary<string, ResourceQuantity> nodeAllocatable)
    {
        var container = PodRuntimeSpecs.AllContainers(pod).Select(c => c.Container).FirstOrDefault(c => c.Name == selector.ContainerName)
            ?? throw new ContainerConfigException($"container {selector.ContainerName} not found");
        return ResourceField(container, selector, nodeAllocatable);
    }

    /// <summary>A container's request or limit in units of the selector's divisor, rounded up as kubelet does.</summary>
    public static string ResourceField(V1Container container, V1ResourceFieldSelector selector, IReadOnlyDictionary<string, ResourceQuantity> nodeAllocatable)
    {
        var (kind, name) = selector.Resource?.Split('.', 2) is [var k, var n] ? (k, n) : ("", "");
        if (kind is not ("limits" or "requests") || !(name is "cpu" or "memory" or "ephemeral-storage" || name.StartsWith("hugepages-", StringComparison.Ordinal)))
            throw new ContainerConfigException($"unsupported container resource : {selector.Resource}");
        var source = kind == "limits" ? container.Resources?.Limits : container.Resources?.Requests;
        var amount = source is not null && source.TryGetValue(name, out var quantity) ? Cm.QuantityValues.Decimal(quantity) : 0m;
        if (kind == "limits" && amount == 0 && nodeAllocatable.TryGetValue(name, out var allocatable)) amount = Cm.QuantityValues.Decimal(allocatable);
        var divisor = selector.Divisor is { } d ? Cm.QuantityValues.Decimal(d) : 0m;
        if (divisor == 0) divisor = 1m;
        // CPU counts in millicores (MilliValue), everything else in whole units (Value); both round up.
        var value = name == "cpu"
            ? Math.Ceiling(Math.Ceiling(amount * 1000m) / Math.Ceiling(divisor * 1000m))
            : Math.Ceiling(Math.Ceiling(amount) / Math.Ceiling(divisor));
        return Cm.QuantityValues.ToInt64(value).ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The machine's CPUs and memory, for a kubelet that has no Node object to read allocatable
    /// from (standalone, or before registration).
    /// </summary>
    public static IReadOnlyDictionary<string, ResourceQuantity> MachineCapacity() => new Dictionary<string, ResourceQuantity>
    {
        ["cpu"] = new(Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)),
        ["memory"] = new(PodRuntimeSpecs.MemoryCapacity().ToString(CultureInfo.InvariantCulture)),
    };
}
