using k8s.Models;

namespace KubeletPS.Core.Cm;

/// <summary>
/// A pod's effective requests and limits as kubelet sums them (k8s.io/component-helpers resource.PodRequests
/// and PodLimits): app containers add up; a restartable (sidecar) init container adds to everything after
/// it; an ordinary init container counts as the larger of itself plus the sidecars before it and the rest;
/// pod overhead is added to the requests, and to the limits that are set. Quantities are cpu in
/// millicores and everything else in units, rounded up as Quantity.MilliValue/Value round.
/// </summary>
public static class PodResources
{
    /// <summary>The container's requests with each missing one taken from its limit (API defaulting).</summary>
    public static IReadOnlyDictionary<string, ResourceQuantity> DefaultedRequests(V1Container container)
    {
        var requests = new Dictionary<string, ResourceQuantity>(container.Resources?.Requests ?? new Dictionary<string, ResourceQuantity>(), StringComparer.Ordinal);
        foreach (var (name, limit) in container.Resources?.Limits ?? new Dictionary<string, ResourceQuantity>())
            requests.TryAdd(name, limit);
        return requests;
    }

    public static Dictionary<string, long> PodRequests(V1Pod pod) =>
        Sum(pod, c => DefaultedRequests(c), overheadOnlyWhereSet: false, onContainer: null);

    /// <param name="onContainer">Told of each container's limits (init containers too), as kubelet's ContainerFn.</param>
    public static Dictionary<string, long> PodLimits(V1Pod pod, Action<IReadOnlyDictionary<string, long>>? onContainer = null) =>
        Sum(pod, c => (IReadOnlyDictionary<string, ResourceQuantity>?)c.Resources?.Limits?.ToDictionary(p => p.Key, p => p.Value) ?? new Dictionary<string, ResourceQuantity>(),
            overheadOnlyWhereSet: true, onContainer);

    private static Dictionary<string, long> Sum(V1Pod pod, Func<V1Container, IReadOnlyDictionary<string, ResourceQuantity>> of, bool overheadOnlyWhereSet,
        Action<IReadOnlyDictionary<string, long>>? onContainer)
    {
        var total = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var container in pod.Spec?.Containers ?? [])
        {
            var values = Values(of(container));
            onContainer?.Invoke(values);
            Add(total, values);
        }
        var sidecars = new Dictionary<string, long>(StringComparer.Ordinal);
        var init = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var container in pod.Spec?.InitContainers ?? [])
        {
            var values = Values(of(container));
            onContainer?.Invoke(values);
            Dictionary<string, long> effective;
            if (container.RestartPolicy == "Always")
            {
                Add(total, values);
                Add(sidecars, values);
                effective = sidecars;
            }
            else
            {
                effective = new Dictionary<string, long>(values, StringComparer.Ordinal);
                Add(effective, sidecars);
            }
            Max(init, effective);
        }
        Max(total, init);
        foreach (var (name, quantity) in Values(pod.Spec?.Overhead?.ToDictionary(p => p.Key, p => p.Value) ?? new Dictionary<string, ResourceQuantity>()))
        {
            if (overheadOnlyWhereSet && !total.ContainsKey(name)) continue;
            total[name] = QuantityValues.Add(total.GetValueOrDefault(name), quantity);
        }
        return total;
    }

    /// <summary>cpu as Quantity.MilliValue, the rest as Quantity.Value (both rounded up).</summary>
    private static Dictionary<string, long> Values(IReadOnlyDictionary<string, ResourceQuantity> list)
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (name, quantity) in list)
        {
            values[name] = name == "cpu" ? QuantityValues.MilliValue(quantity) : QuantityValues.Value(quantity);
        }
        return values;
    }

    private static void Add(Dictionary<string, long> to, IReadOnlyDictionary<string, long> values)
    {
        foreach (var (name, value) in values) to[name] = QuantityValues.Add(to.GetValueOrDefault(name), value);
    }

    private static void Max(Dictionary<string, long> to, IReadOnlyDictionary<string, long> values)
    {
        foreach (var (name, value) in values)
        {
            if (!to.TryGetValue(name, out var current) || value > current) to[name] = value;
        }
    }

    /// <summary>
    /// kubelet's ResourceConfigForPod (CFS quota enforced, the 100ms period): Guaranteed pods get shares,
    /// quota and the memory limit; Burstable ones shares, and quota or memory only when every container
    /// limits that resource; BestEffort ones the minimum shares. <paramref name="podPidsLimit"/> above 0
    /// is the pod's pids limit (podPidsLimit).
    /// </summary>
    public static ResourceConfig ResourceConfigForPod(V1Pod pod, long podPidsLimit = -1)
    {
        var requests = PodRequests(pod);
        var cpuLimitsDeclared = true;
        var memoryLimitsDeclared = true;
        var limits = PodLimits(pod, container =>
        {
            if (container.GetValueOrDefault("cpu") == 0) cpuLimitsDeclared = false;
            if (container.GetValueOrDefault("memory") == 0) memoryLimitsDeclared = false;
        });
        var shares = CgroupCpu.MilliCpuToShares(requests.GetValueOrDefault("cpu"));
        var quota = CgroupCpu.MilliCpuToQuota(limits.GetValueOrDefault("cpu"));
        var memory = limits.GetValueOrDefault("memory");
        long? pids = podPidsLimit > 0 ? podPidsLimit : null;
        return PodQos.GetPodQos(pod) switch
        {
            PodQosClass.Guaranteed => new ResourceConfig { CpuShares = shares, CpuQuota = quota, CpuPeriod = CgroupCpu.QuotaPeriod, Memory = memory, PidsLimit = pids },
            PodQosClass.Burstable => new ResourceConfig
            {
                CpuShares = shares,
                CpuQuota = cpuLimitsDeclared ? quota : null,
                CpuPeriod = cpuLimitsDeclared ? CgroupCpu.QuotaPeriod : null,
                Memory = memoryLimitsDeclared ? memory : null,
                PidsLimit = pids,
            },
            _ => new ResourceConfig { CpuShares = CgroupCpu.MinShares, PidsLimit = pids },
        };
    }
}
