using k8s.Models;

namespace KubeletPS.Core.Cm;

/// <summary>
/// kubelet's QoS container manager (qos_container_manager_linux.go): the burstable and besteffort cgroups
/// under kubepods (Guaranteed pods sit directly in kubepods), and their CPU shares kept up to date as pods
/// come and go — besteffort the minimum (2), burstable the shares of the sum of its pods' CPU requests.
/// qosReserved (memory limits on the QoS cgroups) is not applied: their memory stays unlimited below kubepods.
/// </summary>
public sealed class QosContainerManager(ICgroupManager cgroups, CgroupName kubepods)
{
    public CgroupName Kubepods { get; } = kubepods;
    public CgroupName Burstable { get; } = kubepods.Child("burstable");
    public CgroupName BestEffort { get; } = kubepods.Child("besteffort");

    /// <summary>The QoS cgroup a pod of <paramref name="qos"/> goes in.</summary>
    public CgroupName For(PodQosClass qos) => qos switch
    {
        PodQosClass.Guaranteed => Kubepods,
        PodQosClass.Burstable => Burstable,
        _ => BestEffort,
    };

    /// <summary>Creates both QoS cgroups (kubelet's Start) with the values <paramref name="activePods"/> give.</summary>
    public void Start(IEnumerable<V1Pod> activePods)
    {
        var (burstable, bestEffort) = Values(activePods);
        cgroups.Create(BestEffort, bestEffort);
        cgroups.Create(Burstable, burstable);
    }

    /// <summary>kubelet's UpdateCgroups: the QoS cgroups' CPU shares for the pods now active.</summary>
    public void UpdateCgroups(IEnumerable<V1Pod> activePods)
    {
        var (burstable, bestEffort) = Values(activePods);
        cgroups.Update(BestEffort, bestEffort);
        cgroups.Update(Burstable, burstable);
    }

    /// <summary>kubelet's setCPUCgroupConfig.</summary>
    public static (ResourceConfig Burstable, ResourceConfig BestEffort) Values(IEnumerable<V1Pod> activePods)
    {
        long burstableMilliCpu = 0;
        foreach (var pod in activePods)
        {
            if (PodQos.GetPodQos(pod) == PodQosClass.Burstable) burstableMilliCpu = QuantityValues.Add(burstableMilliCpu, PodResources.PodRequests(pod).GetValueOrDefault("cpu"));
        }
        return (new ResourceConfig { CpuShares = CgroupCpu.MilliCpuToShares(burstableMilliCpu) }, new ResourceConfig { CpuShares = CgroupCpu.MinShares });
    }
}
