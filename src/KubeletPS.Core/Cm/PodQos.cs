using k8s.Models;

namespace KubeletPS.Core.Cm;

/// <summary>A pod's quality of service class (v1.PodQOSClass).</summary>
public enum PodQosClass
{
    Guaranteed,
    Burstable,
    BestEffort,
}

/// <summary>
/// kubelet's QoS class of a pod (pkg/apis/core/v1/helper/qos ComputePodQOS): only cpu and memory count,
/// only quantities above zero; every container (init containers too) must limit both and the sums of
/// requests and limits must match for Guaranteed; nothing requested or limited is BestEffort. A
/// request left out takes its limit, as API defaulting does for pods that did not pass the API server
/// (static pods). Pod overhead does not change the class.
/// </summary>
public static class PodQos
{
    private static readonly string[] QosResources = ["cpu", "memory"];

    public static PodQosClass GetPodQos(V1Pod pod)
    {
        var requests = new Dictionary<string, decimal>(StringComparer.Ordinal);
        var limits = new Dictionary<string, decimal>(StringComparer.Ordinal);
        var guaranteed = true;
        foreach (var container in (pod.Spec?.Containers ?? []).Concat(pod.Spec?.InitContainers ?? []))
        {
            var containerLimits = container.Resources?.Limits;
            var containerRequests = PodResources.DefaultedRequests(container);
            foreach (var name in QosResources)
            {
                if (containerRequests.TryGetValue(name, out var request) && QuantityValues.Decimal(request) > 0)
                    requests[name] = requests.GetValueOrDefault(name) + QuantityValues.Decimal(request);
            }
            var found = 0;
            foreach (var name in QosResources)
            {
                if (containerLimits is not null && containerLimits.TryGetValue(name, out var limit) && QuantityValues.Decimal(limit) > 0)
                {
                    found++;
                    limits[name] = limits.GetValueOrDefault(name) + QuantityValues.Decimal(limit);
                }
            }
            if (found < QosResources.Length) guaranteed = false;
        }
        if (requests.Count == 0 && limits.Count == 0) return PodQosClass.BestEffort;
        if (guaranteed && requests.Any(r => !limits.TryGetValue(r.Key, out var l) || l != r.Value)) guaranteed = false;
        return guaranteed && requests.Count == limits.Count ? PodQosClass.Guaranteed : PodQosClass.Burstable;
    }
}
