namespace KubeletPS.Core.Runtime;

/// <summary>What the kubelet asks the runtime for when it creates a container (CRI ContainerConfig).</summary>
public sealed record ContainerSpec
{
    public required string Name { get; init; }
    public uint Attempt { get; init; }

    /// <summary>Image reference or image id, as resolved by the image pull.</summary>
    public required string Image { get; init; }

    /// <summary>Entrypoint override (Kubernetes <c>command</c>); empty keeps the image's.</summary>
    public IReadOnlyList<string> Command { get; init; } = [];

    /// <summary>Arguments (Kubernetes <c>args</c>); empty keeps the image's Cmd when Command is empty.</summary>
    public IReadOnlyList<string> Args { get; init; } = [];
    public string? WorkingDir { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> Env { get; init; } = [];
    public IReadOnlyList<MountSpec> Mounts { get; init; } = [];

    /// <summary>Relative to the sandbox's log directory, by convention <c>NAME/ATTEMPT.log</c>.</summary>
    public string? LogPath { get; init; }
    public IReadOnlyDictionary<string, string> Labels { get; init; } = PodSandboxSpec.EmptyMap;
    public IReadOnlyDictionary<string, string> Annotations { get; init; } = PodSandboxSpec.EmptyMap;

    public ContainerResourcesSpec? Resources { get; init; }

    public long? RunAsUser { get; init; }
    public long? RunAsGroup { get; init; }
    public string? RunAsUserName { get; init; }
    public bool ReadOnlyRootFilesystem { get; init; }
    public bool Privileged { get; init; }
    public bool NoNewPrivileges { get; init; }
    public IReadOnlyList<string> AddCapabilities { get; init; } = [];
    public IReadOnlyList<string> DropCapabilities { get; init; } = [];

    /// <summary>Groups for the container's first process besides the user's primary group (supplementalGroups and fsGroup).</summary>
    public IReadOnlyList<long> SupplementalGroups { get; init; } = [];

    /// <summary>supplementalGroupsPolicy Strict: the image's /etc/group memberships are not merged in.</summary>
    public bool SupplementalGroupsStrict { get; init; }

    /// <summary>The seccomp profile; null lets the runtime decide (containerd: unconfined).</summary>
    public SecurityProfileSpec? Seccomp { get; init; }

    /// <summary>The AppArmor profile; null lets the runtime decide.</summary>
    public SecurityProfileSpec? AppArmor { get; init; }
    public SeLinuxSpec? SeLinux { get; init; }

    /// <summary>Share the pod's PID namespace (shareProcessNamespace); otherwise each container has its own.</summary>
    public bool SharePodPidNamespace { get; init; }

    public bool Stdin { get; init; }
    public bool StdinOnce { get; init; }
    public bool Tty { get; init; }

    /// <summary>The kubelet's log path for a container: <c>NAME/ATTEMPT.log</c>.</summary>
    public static string DefaultLogPath(string name, uint attempt) => $"{name}/{attempt}.log";
}

public enum SecurityProfileType
{
    RuntimeDefault = 0,
    Unconfined = 1,
    Localhost = 2,
}

/// <summary>A seccomp or AppArmor profile (CRI SecurityProfile); LocalhostRef is the profile's path (seccomp) or name (AppArmor).</summary>
public sealed record SecurityProfileSpec(SecurityProfileType Type, string? LocalhostRef = null);

/// <summary>SELinux labels (CRI SELinuxOption).</summary>
public sealed record SeLinuxSpec(string? User, string? Role, string? Type, string? Level);

public enum MountPropagationMode
{
    Private = 0,
    HostToContainer = 1,
    Bidirectional = 2,
}

public sealed record MountSpec(string ContainerPath, string HostPath, bool ReadOnly = false, MountPropagationMode Propagation = MountPropagationMode.Private);

/// <summary>Linux resources as the kubelet computes them from requests and limits; 0 means unset.</summary>
public sealed record ContainerResourcesSpec
{
    public long CpuPeriod { get; init; }
    public long CpuQuota { get; init; }
    public long CpuShares { get; init; }
    public long MemoryLimitInBytes { get; init; }
    public long OomScoreAdj { get; init; }
    public string? CpusetCpus { get; init; }
    public string? CpusetMems { get; init; }
    public IReadOnlyDictionary<string, string> Unified { get; init; } = PodSandboxSpec.EmptyMap;
}
