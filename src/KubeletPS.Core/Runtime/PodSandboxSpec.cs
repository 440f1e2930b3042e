namespace KubeletPS.Core.Runtime;

/// <summary>
/// What the kubelet asks the runtime for when it creates a pod sandbox (CRI PodSandboxConfig).
/// Engine-owned so that callers never see protobuf types.
/// </summary>
public sealed record PodSandboxSpec
{
    public required string Name { get; init; }
    public required string Namespace { get; init; }
    public required string Uid { get; init; }
    public uint Attempt { get; init; }

    /// <summary>Pod hostname. Must be empty for host-network pods: the runtime then uses the node's.</summary>
    public string? Hostname { get; init; }

    /// <summary>Directory for container logs, by convention <c>/var/log/pods/NAMESPACE_NAME_UID</c>.</summary>
    public string? LogDirectory { get; init; }

    public DnsSpec? Dns { get; init; }
    public IReadOnlyList<PortMappingSpec> PortMappings { get; init; } = [];
    public IReadOnlyDictionary<string, string> Labels { get; init; } = EmptyMap;
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = EmptyMap;

    /// <summary>Run in the node's network namespace (CRI namespace_options.network = NODE).</summary>
    public bool HostNetwork { get; init; }
    public bool HostPid { get; init; }
    public bool HostIpc { get; init; }

    /// <summary>Parent cgroup in cgroupfs syntax, e.g. <c>/kubepods/besteffort/pod&lt;uid&gt;</c>.</summary>
    public string? CgroupParent { get; init; }

    /// <summary>Must be true when any container of the pod is privileged.</summary>
    public bool Privileged { get; init; }
    public long? RunAsUser { get; init; }
    public long? RunAsGroup { get; init; }
    public IReadOnlyList<long> SupplementalGroups { get; init; } = [];
    public bool SupplementalGroupsStrict { get; init; }
    public SecurityProfileSpec? Seccomp { get; init; }
    public SecurityProfileSpec? AppArmor { get; init; }
    public SeLinuxSpec? SeLinux { get; init; }
    public bool ReadOnlyRootFilesystem { get; init; }
    public IReadOnlyDictionary<string, string> Sysctls { get; init; } = EmptyMap;

    /// <summary>RuntimeClass handler; empty selects the runtime's default.</summary>
    public string? RuntimeHandler { get; init; }

    /// <summary>The kubelet's log directory for a pod: <c>/var/log/pods/NAMESPACE_NAME_UID</c>.</summary>
    public static string DefaultLogDirectory(string podLogsRoot, string @namespace, string name, string uid)
        => Path.Combine(podLogsRoot, $"{@namespace}_{name}_{uid}");

    internal static readonly IReadOnlyDictionary<string, string> EmptyMap = new Dictionary<string, string>();
}

public sealed record DnsSpec(IReadOnlyList<string> Servers, IReadOnlyList<string> Searches, IReadOnlyList<string> Options);

public enum PortProtocol
{
    Tcp = 0,
    Udp = 1,
    Sctp = 2,
}

/// <summary>A pod port; HostPort 0 means the port is not exposed on the host.</summary>
public sealed record PortMappingSpec(int ContainerPort, int HostPort = 0, PortProtocol Protocol = PortProtocol.Tcp, string? HostIp = null);
