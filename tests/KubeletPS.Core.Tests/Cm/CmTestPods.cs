using k8s.Models;

namespace KubeletPS.Core.Tests.Cm;

/// <summary>Pods for the container manager's tables: containers given as (requests, limits) in "cpu=100m,memory=100Mi" form.</summary>
internal static class CmTestPods
{
    public static V1Pod Pod(params (string? Requests, string? Limits)[] containers) => Pod(containers, [], null);

    public static V1Pod Pod((string? Requests, string? Limits)[] containers, (string? Requests, string? Limits, bool Sidecar)[] init, string? overhead,
        string uid = "6e1c4a2b-0d3f-4a55-9e36-1f0a2b3c4d5e") => new()
    {
        Metadata = new V1ObjectMeta { Name = "p", NamespaceProperty = "default", Uid = uid },
        Spec = new V1PodSpec
        {
            Containers = containers.Select((c, i) => Container($"c{i}", c.Requests, c.Limits)).ToList(),
            InitContainers = init.Length == 0 ? null : init.Select((c, i) =>
            {
                var container = Container($"i{i}", c.Requests, c.Limits);
                if (c.Sidecar) container.RestartPolicy = "Always";
                return container;
            }).ToList(),
            Overhead = overhead is null ? null : List(overhead),
        },
    };

    private static V1Container Container(string name, string? requests, string? limits) => new()
    {
        Name = name,
        Image = "busybox",
        Resources = requests is null && limits is null ? null : new V1ResourceRequirements { Requests = List(requests), Limits = List(limits) },
    };

    private static Dictionary<string, ResourceQuantity>? List(string? text) => text is null ? null
        : text.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=')).ToDictionary(p => p[0], p => new ResourceQuantity(p[1]));
}
