namespace KubeletPS.Core.Cm;

/// <summary>
/// The values a cgroup is given (kubelet's cm.ResourceConfig); null leaves the kernel's value as it is.
/// CPU in cgroup v1 units (shares, CFS quota and period in µs); v2 converts them (cpu.weight, cpu.max).
/// </summary>
public sealed record ResourceConfig
{
    /// <summary>Memory limit in bytes; 0 or less is no limit.</summary>
    public long? Memory { get; init; }
    public long? CpuShares { get; init; }

    /// <summary>CFS quota in µs per <see cref="CpuPeriod"/>; -1 is no quota.</summary>
    public long? CpuQuota { get; init; }
    public long? CpuPeriod { get; init; }

    /// <summary>Maximum number of processes; -1 is no limit.</summary>
    public long? PidsLimit { get; init; }
}

/// <summary>kubelet's CPU conversions (pkg/kubelet/cm/helpers_linux.go).</summary>
public static class CgroupCpu
{
    public const long MinShares = 2;
    public const long MaxShares = 262144;
    public const long SharesPerCpu = 1024;
    public const long MilliCpuToCpu = 1000;

    /// <summary>The CFS quota period, 100ms (kubelet's QuotaPeriod; cpuCFSQuotaPeriod is not in effect).</summary>
    public const long QuotaPeriod = 100_000;

    /// <summary>The smallest quota kubelet sets (MinQuotaPeriod, 1ms).</summary>
    public const long MinQuotaPeriod = 1_000;

    /// <summary>MilliCPUToShares: requests to cpu.shares, between 2 and 262144; no request is 2.</summary>
    public static long MilliCpuToShares(long milliCpu)
    {
        if (milliCpu == 0) return MinShares;
        // In 128 bits: kubelet's int64 product wraps for a pod asking for 2^63-1 millicores (cpu: 1e1000).
        var shares = (Int128)milliCpu * SharesPerCpu / MilliCpuToCpu;
        return (long)Int128.Clamp(shares, MinShares, MaxShares);
    }

    /// <summary>The largest CFS quota the kernel takes (max_cfs_runtime: 2^44-1 µs); a larger one is EINVAL.</summary>
    public const long MaxQuota = (1L << 44) - 1;

    /// <summary>MilliCPUToQuota: a limit to a CFS quota over <paramref name="period"/>, at least 1ms; no limit is 0.</summary>
    public static long MilliCpuToQuota(long milliCpu, long period = QuotaPeriod)
    {
        if (milliCpu == 0) return 0;
        return (long)Int128.Clamp((Int128)milliCpu * period / MilliCpuToCpu, MinQuotaPeriod, MaxQuota);
    }

    /// <summary>CpuSharesToCpuWeight: cgroup v1 shares [2, 262144] to the v2 cpu.weight [1, 10000].</summary>
    public static long CpuSharesToCpuWeight(long shares) => 1 + (Math.Clamp(shares, MinShares, MaxShares) - 2) * 9999 / 262142;
}
