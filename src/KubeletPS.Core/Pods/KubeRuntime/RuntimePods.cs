using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.KubeRuntime;

/// <summary>One pod's sandboxes and containers as the runtime lists them (kubelet's kubecontainer.Pod from GetPods).</summary>
public sealed record RuntimePodObjects(string Uid, IReadOnlyList<PodSandboxInfo> Sandboxes, IReadOnlyList<ContainerInfo> Containers)
{
    /// <summary>The newest sandbox (by creation, then attempt), or null when only containers are left.</summary>
    public PodSandboxInfo? LatestSandbox => Sandboxes.OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Attempt).FirstOrDefault();
}

/// <summary>
/// The one grouping of runtime objects by pod (kubelet's GetPods): sandboxes and containers joined by
/// kubelet's io.kubernetes.pod.uid label; a container without it belongs to its sandbox's pod. What
/// carries neither was not started by a kubelet and is left out. PLEG, the inventory and the agent's
/// housekeeping all see pods through this.
/// </summary>
public static class RuntimePods
{
    /// <summary>The pods in a listing, in the order their first object was listed; <paramref name="skipped"/> counts the objects left out.</summary>
    public static IReadOnlyList<RuntimePodObjects> Group(IReadOnlyList<PodSandboxInfo> sandboxes, IReadOnlyList<ContainerInfo> containers, out int skipped)
    {
        ArgumentNullException.ThrowIfNull(sandboxes);
        ArgumentNullException.ThrowIfNull(containers);
        skipped = 0;
        var order = new List<string>();
        var bySandbox = new Dictionary<string, string>(StringComparer.Ordinal);
        var podSandboxes = new Dictionary<string, List<PodSandboxInfo>>(StringComparer.Ordinal);
        var podContainers = new Dictionary<string, List<ContainerInfo>>(StringComparer.Ordinal);
        foreach (var s in sandboxes)
        {
            if (PodUid(s.Labels) is not { } uid)
            {
                skipped++;
                continue;
            }
            bySandbox[s.Id] = uid;
            if (!podSandboxes.TryGetValue(uid, out var list))
            {
                podSandboxes[uid] = list = [];
                if (!podContainers.ContainsKey(uid)) order.Add(uid);
            }
            list.Add(s);
        }
        foreach (var c in containers)
        {
            if ((PodUid(c.Labels) ?? bySandbox.GetValueOrDefault(c.PodSandboxId)) is not { } uid)
            {
                skipped++;
                continue;
            }
            if (!podContainers.TryGetValue(uid, out var list))
            {
                podContainers[uid] = list = [];
                if (!podSandboxes.ContainsKey(uid)) order.Add(uid);
            }
            list.Add(c);
        }
        return order.Select(uid => new RuntimePodObjects(uid, podSandboxes.GetValueOrDefault(uid) ?? [], podContainers.GetValueOrDefault(uid) ?? [])).ToList();
    }

    /// <summary>Lists every sandbox and container (two CRI calls) and groups them by pod.</summary>
    public static async Task<(IReadOnlyList<RuntimePodObjects> Pods, int Skipped)> GetPodsAsync(IRuntimeService runtime, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var sandboxes = await runtime.ListPodSandboxesAsync(null, cancellationToken).ConfigureAwait(false);
        var containers = await runtime.ListContainersAsync(null, cancellationToken).ConfigureAwait(false);
        var pods = Group(sandboxes, containers, out var skipped);
        return (pods, skipped);
    }

    private static string? PodUid(IReadOnlyDictionary<string, string> labels)
        => labels.TryGetValue(KubeletLabels.PodUid, out var uid) && uid.Length > 0 ? uid : null;
}
