using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.Gc;

/// <summary>A container or sandbox a plan removes, and why.</summary>
public sealed record GcCandidate(string Id, string Name, string PodUid, DateTimeOffset CreatedAt, string Reason, bool Unknown = false);

/// <summary>
/// The decisions of kubelet's kuberuntime_gc.go as pure functions over what the runtime listed:
/// evictContainers (evict units of (pod uid, container name), oldest first, MaxPerPodContainer then
/// the per-unit share of MaxContainers, then the oldest across the node) and evictSandboxes (every
/// inactive sandbox of a removed pod, all but the newest of a live one). <see cref="ContainerGc"/>
/// carries them out.
/// </summary>
public static class ContainerGcPlan
{
    /// <summary>Dead containers to remove, oldest first within each rule.</summary>
    public static IReadOnlyList<GcCandidate> Containers(IReadOnlyList<ContainerInfo> containers, ContainerGcPolicy policy, IPodStateProvider pods, bool evictNonDeletedPods, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(containers);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(pods);
        var newestGcTime = now - policy.MinAge;
        // evictableContainers: not running, created at least MinAge ago, newest first per unit.
        var units = containers
            .Where(c => c.State != ContainerState.Running && c.Labels.ContainsKey(KubeletLabels.PodUid))
            .Where(c => (c.CreatedAt ?? DateTimeOffset.MinValue) <= newestGcTime)
            .GroupBy(c => (Uid: c.Labels[KubeletLabels.PodUid], Name: c.Labels.GetValueOrDefault(KubeletLabels.ContainerName) ?? c.Name))
            .ToDictionary(g => g.Key, g => g.OrderByDescending(c => c.CreatedAt).ThenByDescending(c => c.Id, StringComparer.Ordinal).ToList());
        var remove = new List<GcCandidate>();

        if (pods.AllSourcesReady)
        {
            foreach (var key in units.Keys.ToList())
            {
                if (!pods.ShouldPodContentBeRemoved(key.Uid) && !(evictNonDeletedPods && pods.ShouldPodRuntimeBeRemoved(key.Uid))) continue;
                remove.AddRange(Oldest(units[key], units[key].Count, "the pod is removed"));
                units.Remove(key);
            }
        }
        if (policy.MaxPerPodContainer >= 0) EnforcePerUnit(units, policy.MaxPerPodContainer, $"more than {policy.MaxPerPodContainer} dead per pod container (MaxPerPodContainer)", remove);
        if (policy.MaxContainers >= 0 && units.Values.Sum(u => u.Count) > policy.MaxContainers)
        {
            // Spread the node's budget over the evict units, at least one each, then the oldest across the node.
            var perUnit = units.Count == 0 ? 1 : Math.Max(1, policy.MaxContainers / units.Count);
            EnforcePerUnit(units, perUnit, $"over the node's {policy.MaxContainers} dead containers (MaxContainers), {perUnit} per pod container", remove);
            var flattened = units.Values.SelectMany(u => u).OrderByDescending(c => c.CreatedAt).ThenByDescending(c => c.Id, StringComparer.Ordinal).ToList();
            if (flattened.Count > policy.MaxContainers)
                remove.AddRange(Oldest(flattened, flattened.Count - policy.MaxContainers, $"over the node's {policy.MaxContainers} dead containers (MaxContainers), oldest first"));
        }
        return remove;
    }

    /// <summary>Sandboxes to remove: never a ready one or one that still has containers (after <paramref name="removedContainers"/> go).</summary>
    public static IReadOnlyList<GcCandidate> Sandboxes(IReadOnlyList<PodSandboxInfo> sandboxes, IReadOnlyList<ContainerInfo> containers, IReadOnlyCollection<string> removedContainers,
        IPodStateProvider pods, bool evictNonDeletedPods)
    {
        ArgumentNullException.ThrowIfNull(sandboxes);
        ArgumentNullException.ThrowIfNull(containers);
        ArgumentNullException.ThrowIfNull(pods);
        var withContainers = containers.Where(c => !removedContainers.Contains(c.Id)).Select(c => c.PodSandboxId).ToHashSet(StringComparer.Ordinal);
        var remove = new List<GcCandidate>();
        foreach (var pod in sandboxes.Where(s => s.Uid.Length > 0).GroupBy(s => s.Uid))
        {
            var newestFirst = pod.OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Id, StringComparer.Ordinal).ToList();
            // Before the sources are ready an unseen pod may still be wanted: then only its older sandboxes go.
            var podRemoved = pods.AllSourcesReady && (pods.ShouldPodContentBeRemoved(pod.Key) || (evictNonDeletedPods && pods.ShouldPodRuntimeBeRemoved(pod.Key)));
            var keep = podRemoved ? 0 : 1;
            foreach (var sandbox in newestFirst.Skip(keep))
            {
                if (sandbox.State == PodSandboxState.Ready || withContainers.Contains(sandbox.Id)) continue;
                remove.Add(new GcCandidate(sandbox.Id, sandbox.Name, sandbox.Uid, sandbox.CreatedAt ?? DateTimeOffset.MinValue,
                    podRemoved ? "the pod is removed" : "not ready, without containers, and not the pod's newest sandbox"));
            }
        }
        return remove;
    }

    /// <summary>kubelet's parsePodUIDFromLogsDirectory: {namespace}_{name}_{uid}.</summary>
    public static string PodUidFromLogsDirectory(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var index = name.LastIndexOf('_');
        return index < 0 ? "" : name[(index + 1)..];
    }

    private static void EnforcePerUnit(Dictionary<(string Uid, string Name), List<ContainerInfo>> units, int keep, string reason, List<GcCandidate> remove)
    {
        foreach (var key in units.Keys.ToList())
        {
            var unit = units[key];
            var toRemove = unit.Count - keep;
            if (toRemove <= 0) continue;
            remove.AddRange(Oldest(unit, toRemove, reason));
            units[key] = unit.Take(keep).ToList();
        }
    }

    // The list is newest first: the last n go, oldest first.
    private static IEnumerable<GcCandidate> Oldest(List<ContainerInfo> newestFirst, int n, string reason) =>
        newestFirst.Skip(newestFirst.Count - n).Reverse()
            .Select(c => new GcCandidate(c.Id, c.Labels.GetValueOrDefault(KubeletLabels.ContainerName) ?? c.Name, c.Labels.GetValueOrDefault(KubeletLabels.PodUid) ?? "",
                c.CreatedAt ?? DateTimeOffset.MinValue, reason, c.State == ContainerState.Unknown));
}
