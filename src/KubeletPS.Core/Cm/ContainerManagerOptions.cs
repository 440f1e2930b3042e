using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Cm;

/// <summary>
/// What the container manager runs with (kubelet's NodeConfig): cgroupsPerQOS, cgroupRoot, cgroupDriver,
/// enforceNodeAllocatable with the reservations and their cgroups, podPidsLimit.
/// </summary>
public sealed record ContainerManagerOptions
{
    public const string PodsEnforcement = "pods";
    public const string SystemReservedEnforcement = "system-reserved";
    public const string KubeReservedEnforcement = "kube-reserved";
    public const string NoneEnforcement = "none";

    public bool CgroupsPerQos { get; init; } = true;

    /// <summary>cgroupRoot in the driver's syntax ("/" by default; a slice name with systemd).</summary>
    public string CgroupRoot { get; init; } = "/";
    public CgroupDriver Driver { get; init; } = CgroupDriver.Cgroupfs;
    public IReadOnlyList<string> EnforceNodeAllocatable { get; init; } = [PodsEnforcement];
    public IReadOnlyDictionary<string, string> SystemReserved { get; init; } = new Dictionary<string, string>();
    public IReadOnlyDictionary<string, string> KubeReserved { get; init; } = new Dictionary<string, string>();
    public string SystemReservedCgroup { get; init; } = "";
    public string KubeReservedCgroup { get; init; } = "";

    /// <summary>Each pod's pids limit; -1 (or 0) leaves pods bounded by the node allocatable pids only.</summary>
    public long PodPidsLimit { get; init; } = -1;

    /// <summary>Where the cgroup file systems are mounted; tests point it at a directory tree.</summary>
    public string CgroupFileSystemRoot { get; init; } = "/sys/fs/cgroup";

    public static ContainerManagerOptions FromConfiguration(KubeletConfiguration c) => new()
    {
        CgroupsPerQos = c.CgroupsPerQos != false,
        CgroupRoot = string.IsNullOrEmpty(c.CgroupRoot) ? "/" : c.CgroupRoot,
        Driver = ParseDriver(string.IsNullOrEmpty(c.CgroupDriver) ? "cgroupfs" : c.CgroupDriver),
        EnforceNodeAllocatable = c.EnforceNodeAllocatable ?? [PodsEnforcement],
        SystemReserved = c.SystemReserved ?? new Dictionary<string, string>(),
        KubeReserved = c.KubeReserved ?? new Dictionary<string, string>(),
        SystemReservedCgroup = c.SystemReservedCgroup,
        KubeReservedCgroup = c.KubeReservedCgroup,
        PodPidsLimit = c.PodPidsLimit ?? -1,
    };

    public static CgroupDriver ParseDriver(string driver) => driver switch
    {
        "cgroupfs" => CgroupDriver.Cgroupfs,
        "systemd" => CgroupDriver.Systemd,
        _ => throw new KubeletException($"invalid configuration: cgroupDriver (--cgroup-driver) \"{driver}\" is not \"cgroupfs\" or \"systemd\"", KubeletErrorKind.InvalidData, "cgroupDriver"),
    };

    public static string DriverName(CgroupDriver driver) => driver == CgroupDriver.Systemd ? "systemd" : "cgroupfs";

    /// <summary>kubelet's ValidateKubeletConfiguration checks of these fields, in its words; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        var enforced = EnforceNodeAllocatable.Where(e => e != NoneEnforcement).ToList();
        if (!CgroupsPerQos && enforced.Count > 0)
            errors.Add("invalid configuration: enforceNodeAllocatable (--enforce-node-allocatable) is not supported unless cgroupsPerQOS (--cgroups-per-qos) is set to true");
        foreach (var value in EnforceNodeAllocatable)
        {
            switch (value)
            {
                case PodsEnforcement:
                    break;
                case SystemReservedEnforcement when SystemReservedCgroup.Length == 0:
                    errors.Add($"invalid configuration: systemReservedCgroup (--system-reserved-cgroup) must be specified when \"{SystemReservedEnforcement}\" contained in enforceNodeAllocatable (--enforce-node-allocatable)");
                    break;
                case KubeReservedEnforcement when KubeReservedCgroup.Length == 0:
                    errors.Add($"invalid configuration: kubeReservedCgroup (--kube-reserved-cgroup) must be specified when \"{KubeReservedEnforcement}\" contained in enforceNodeAllocatable (--enforce-node-allocatable)");
                    break;
                case SystemReservedEnforcement or KubeReservedEnforcement:
                    break;
                case NoneEnforcement:
                    if (EnforceNodeAllocatable.Count > 1)
                        errors.Add($"invalid configuration: enforceNodeAllocatable (--enforce-node-allocatable) may not contain additional enforcements when \"{NoneEnforcement}\" is specified");
                    break;
                default:
                    errors.Add($"invalid configuration: option \"{value}\" specified for enforceNodeAllocatable (--enforce-node-allocatable). Valid options are \"{PodsEnforcement}\", \"{SystemReservedEnforcement}\", \"{KubeReservedEnforcement}\", or \"{NoneEnforcement}\"");
                    break;
            }
        }
        return errors;
    }
}
