using k8s.Models;

namespace KubeletPS.Core.Cm;

/// <summary>
/// kubelet's pod container manager (pod_container_manager_linux.go): each pod's cgroup "pod&lt;uid&gt;" in its
/// QoS cgroup, created with ResourceConfigForPod (and podPidsLimit) before the pod's sandbox, and found
/// again on the node by scanning the QoS cgroups (GetAllPodsFromCgroups) for the cleanup of pods gone.
/// </summary>
public sealed class PodContainerManager(ICgroupManager cgroups, QosContainerManager qos, long podPidsLimit)
{
    private const string PodPrefix = "pod";

    public CgroupName For(V1Pod pod) => qos.For(PodQos.GetPodQos(pod)).Child(PodPrefix + pod.Metadata.Uid);

    /// <summary>The cgroup parent the runtime is given for the pod's sandbox, in the driver's form.</summary>
    public string CgroupParent(V1Pod pod) => cgroups.Name(For(pod));

    public bool Exists(V1Pod pod) => cgroups.Exists(For(pod));

    /// <summary>Creates the pod's cgroup with its limits when it does not exist yet (kubelet's EnsureExists).</summary>
    public bool EnsureExists(V1Pod pod)
    {
        var name = For(pod);
        if (cgroups.Exists(name)) return false;
        cgroups.Create(name, PodResources.ResourceConfigForPod(pod, podPidsLimit));
        return true;
    }

    public void Destroy(CgroupName name) => cgroups.Destroy(name);

    /// <summary>Every pod cgroup below kubepods and its QoS cgroups, by pod UID.</summary>
    public IReadOnlyDictionary<string, CgroupName> GetAllPodsFromCgroups()
    {
        var pods = new Dictionary<string, CgroupName>(StringComparer.Ordinal);
        foreach (var parent in new[] { qos.Kubepods, qos.Burstable, qos.BestEffort })
        {
            foreach (var child in cgroups.Children(parent))
            {
                var last = child.Components.Count > 0 ? child.Components[^1] : "";
                if (last.StartsWith(PodPrefix, StringComparison.Ordinal) && last.Length > PodPrefix.Length) pods[last[PodPrefix.Length..]] = child;
            }
        }
        return pods;
    }
}
