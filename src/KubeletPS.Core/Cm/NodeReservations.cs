namespace KubeletPS.Core.Cm;

/// <summary>The node's capacity as the container manager bounds cgroups by it: CPU in millicores, memory in bytes, pids.</summary>
public sealed record NodeCapacity(long MilliCpu, long MemoryBytes, long Pids);

/// <summary>
/// systemReserved + kubeReserved, the one sum both the Node's allocatable (which also takes off the hard
/// eviction thresholds) and the kubepods cgroup bound (which does not: kubelet's
/// getNodeAllocatableAbsolute) are computed from.
/// </summary>
public static class NodeReservations
{
    /// <summary>The reserved amount of <paramref name="resource"/> (cpu in cores, memory in bytes, pid in pids), summed.</summary>
    public static decimal Reserved(string resource, params IReadOnlyDictionary<string, string>[] reservations)
    {
        decimal total = 0;
        foreach (var reserved in reservations)
        {
            if (reserved.TryGetValue(resource, out var text)) total += Parse(resource, text);
        }
        return total;
    }

    /// <summary>kubepods' bound: capacity − systemReserved − kubeReserved (never below 0), as kubelet's getCgroupConfig turns it into values.</summary>
    public static ResourceConfig KubepodsBound(NodeCapacity capacity, IReadOnlyDictionary<string, string> systemReserved, IReadOnlyDictionary<string, string> kubeReserved)
    {
        var milliCpu = capacity.MilliCpu - Whole(Reserved("cpu", systemReserved, kubeReserved) * 1000m);
        var memory = capacity.MemoryBytes - Whole(Reserved("memory", systemReserved, kubeReserved));
        var pids = capacity.Pids - Whole(Reserved("pid", systemReserved, kubeReserved));
        return new ResourceConfig
        {
            CpuShares = CgroupCpu.MilliCpuToShares(Math.Max(0, milliCpu)),
            Memory = Math.Max(0, memory),
            PidsLimit = capacity.Pids > 0 ? Math.Max(1, pids) : null,
        };
    }

    /// <summary>A reserved cgroup's values: the reservation itself (kubelet's enforceExistingCgroup).</summary>
    public static ResourceConfig ReservedCgroupConfig(IReadOnlyDictionary<string, string> reserved) => new()
    {
        CpuShares = reserved.ContainsKey("cpu") ? CgroupCpu.MilliCpuToShares(Whole(Reserved("cpu", reserved) * 1000m)) : null,
        Memory = reserved.ContainsKey("memory") ? Whole(Reserved("memory", reserved)) : null,
        PidsLimit = reserved.ContainsKey("pid") ? Whole(Reserved("pid", reserved)) : null,
    };

    /// <summary>Rounded up to a whole number, capped at int64's range (a reservation of 1e19 bytes is 2^63-1).</summary>
    private static long Whole(decimal value) => QuantityValues.ToInt64(Math.Ceiling(value));

    private static decimal Parse(string resource, string text)
    {
        try
        {
            return QuantityValues.Decimal(Api.QuantityExponents.Parse(text));
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            throw new KubeletException($"invalid reservation {resource}={text}: {e.Message}", KubeletErrorKind.InvalidData, resource);
        }
    }
}
