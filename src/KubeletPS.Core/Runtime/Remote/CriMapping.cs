using Google.Protobuf.Collections;

namespace KubeletPS.Core.Runtime.Remote;

/// <summary>Translates between the engine's records and the generated CRI messages (kept internal).</summary>
internal static class CriMapping
{
    public static Cri.PodSandboxConfig ToCri(PodSandboxSpec spec)
    {
        var config = new Cri.PodSandboxConfig
        {
            Metadata = new Cri.PodSandboxMetadata
            {
                Name = spec.Name,
                Namespace = spec.Namespace,
                Uid = spec.Uid,
                Attempt = spec.Attempt,
            },
            // Host-network pods take the node's hostname; the runtime requires it empty then.
            Hostname = spec.HostNetwork ? string.Empty : spec.Hostname ?? spec.Name,
            LogDirectory = spec.LogDirectory ?? string.Empty,
            Linux = new Cri.LinuxPodSandboxConfig
            {
                CgroupParent = spec.CgroupParent ?? string.Empty,
                SecurityContext = new Cri.LinuxSandboxSecurityContext
                {
                    NamespaceOptions = SandboxNamespaces(spec),
                    Privileged = spec.Privileged,
                    ReadonlyRootfs = spec.ReadOnlyRootFilesystem,
                    RunAsUser = Int64(spec.RunAsUser),
                    RunAsGroup = Int64(spec.RunAsGroup),
                    Seccomp = ToCri(spec.Seccomp),
                    Apparmor = ToCri(spec.AppArmor),
                    SelinuxOptions = ToCri(spec.SeLinux),
                    SupplementalGroupsPolicy = GroupsPolicy(spec.SupplementalGroupsStrict),
                    SupplementalGroups = { spec.SupplementalGroups },
                },
                Sysctls = { spec.Sysctls },
            },
            Labels = { spec.Labels },
            Annotations = { spec.Annotations },
        };
        if (spec.Dns is { } dns)
        {
            config.DnsConfig = new Cri.DNSConfig();
            config.DnsConfig.Servers.AddRange(dns.Servers);
            config.DnsConfig.Searches.AddRange(dns.Searches);
            config.DnsConfig.Options.AddRange(dns.Options);
        }

        foreach (var port in spec.PortMappings)
        {
            config.PortMappings.Add(new Cri.PortMapping
            {
                ContainerPort = port.ContainerPort,
                HostPort = port.HostPort,
                HostIp = port.HostIp ?? string.Empty,
                Protocol = (Cri.Protocol)port.Protocol,
            });
        }

        return config;
    }

    private static Cri.NamespaceOption SandboxNamespaces(PodSandboxSpec spec) => new()
    {
        Network = spec.HostNetwork ? Cri.NamespaceMode.Node : Cri.NamespaceMode.Pod,
        Pid = spec.HostPid ? Cri.NamespaceMode.Node : Cri.NamespaceMode.Pod,
        Ipc = spec.HostIpc ? Cri.NamespaceMode.Node : Cri.NamespaceMode.Pod,
    };

    public static Cri.ContainerConfig ToCri(ContainerSpec spec, PodSandboxSpec sandbox)
    {
        var namespaces = SandboxNamespaces(sandbox);
        // As the kubelet does: network and IPC follow the pod; PID is per container unless
        // the pod shares its process namespace or uses the host's.
        namespaces.Pid = sandbox.HostPid ? Cri.NamespaceMode.Node
            : spec.SharePodPidNamespace ? Cri.NamespaceMode.Pod
            : Cri.NamespaceMode.Container;

        var security = new Cri.LinuxContainerSecurityContext
        {
            Privileged = spec.Privileged,
            NamespaceOptions = namespaces,
            ReadonlyRootfs = spec.ReadOnlyRootFilesystem,
            NoNewPrivs = spec.NoNewPrivileges,
            RunAsUser = Int64(spec.RunAsUser),
            RunAsGroup = Int64(spec.RunAsGroup),
            RunAsUsername = spec.RunAsUserName ?? string.Empty,
            Seccomp = ToCri(spec.Seccomp),
            Apparmor = ToCri(spec.AppArmor),
            SelinuxOptions = ToCri(spec.SeLinux),
            SupplementalGroupsPolicy = GroupsPolicy(spec.SupplementalGroupsStrict),
            SupplementalGroups = { spec.SupplementalGroups },
        };
        if (spec.AddCapabilities.Count > 0 || spec.DropCapabilities.Count > 0)
        {
            security.Capabilities = new Cri.Capability { AddCapabilities = { spec.AddCapabilities }, DropCapabilities = { spec.DropCapabilities } };
        }

        var config = new Cri.ContainerConfig
        {
            Metadata = new Cri.ContainerMetadata { Name = spec.Name, Attempt = spec.Attempt },
            Image = new Cri.ImageSpec { Image = spec.Image },
            WorkingDir = spec.WorkingDir ?? string.Empty,
            LogPath = spec.LogPath ?? ContainerSpec.DefaultLogPath(spec.Name, spec.Attempt),
            Stdin = spec.Stdin,
            StdinOnce = spec.StdinOnce,
            Tty = spec.Tty,
            Linux = new Cri.LinuxContainerConfig
            {
                SecurityContext = security,
                Resources = spec.Resources is { } r ? ToCri(r) : null,
            },
            Command = { spec.Command },
            Args = { spec.Args },
            Labels = { spec.Labels },
            Annotations = { spec.Annotations },
        };
        foreach (var (key, value) in spec.Env)
        {
            config.Envs.Add(new Cri.KeyValue { Key = key, Value = value });
        }

        foreach (var mount in spec.Mounts)
        {
            config.Mounts.Add(new Cri.Mount
            {
                ContainerPath = mount.ContainerPath,
                HostPath = mount.HostPath,
                Readonly = mount.ReadOnly,
                Propagation = (Cri.MountPropagation)mount.Propagation,
            });
        }

        return config;
    }

    private static Cri.SecurityProfile? ToCri(SecurityProfileSpec? profile) => profile is null ? null : new Cri.SecurityProfile
    {
        ProfileType = (Cri.SecurityProfile.Types.ProfileType)profile.Type,
        LocalhostRef = profile.LocalhostRef ?? string.Empty,
    };

    private static Cri.SELinuxOption? ToCri(SeLinuxSpec? options) => options is null ? null : new Cri.SELinuxOption
    {
        User = options.User ?? string.Empty,
        Role = options.Role ?? string.Empty,
        Type = options.Type ?? string.Empty,
        Level = options.Level ?? string.Empty,
    };

    public static Cri.LinuxContainerResources ToCri(ContainerResourcesSpec r) => new()
    {
        CpuPeriod = r.CpuPeriod,
        CpuQuota = r.CpuQuota,
        CpuShares = r.CpuShares,
        MemoryLimitInBytes = r.MemoryLimitInBytes,
        OomScoreAdj = r.OomScoreAdj,
        CpusetCpus = r.CpusetCpus ?? string.Empty,
        CpusetMems = r.CpusetMems ?? string.Empty,
        Unified = { r.Unified },
    };

    public static Cri.PodSandboxFilter? ToCri(PodSandboxFilter? filter) => filter is null ? null : new Cri.PodSandboxFilter
    {
        Id = filter.Id ?? string.Empty,
        State = filter.State is { } s ? new Cri.PodSandboxStateValue { State = (Cri.PodSandboxState)s } : null,
        LabelSelector = { filter.LabelSelector },
    };

    public static Cri.ContainerFilter? ToCri(ContainerFilter? filter) => filter is null ? null : new Cri.ContainerFilter
    {
        Id = filter.Id ?? string.Empty,
        PodSandboxId = filter.PodSandboxId ?? string.Empty,
        State = filter.State is { } s ? new Cri.ContainerStateValue { State = (Cri.ContainerState)s } : null,
        LabelSelector = { filter.LabelSelector },
    };

    public static RuntimeStatusInfo FromCri(Cri.RuntimeStatus? status)
    {
        var conditions = (status?.Conditions ?? [])
            .Select(c => new RuntimeConditionInfo(c.Type, c.Status, c.Reason, c.Message))
            .ToArray();
        bool Is(string type) => conditions.Any(c => c.Type == type && c.Status);
        return new RuntimeStatusInfo(Is("RuntimeReady"), Is("NetworkReady"), conditions);
    }

    public static PodSandboxInfo FromCri(Cri.PodSandbox s) => new(
        s.Id,
        s.Metadata?.Name ?? string.Empty,
        s.Metadata?.Namespace ?? string.Empty,
        s.Metadata?.Uid ?? string.Empty,
        s.Metadata?.Attempt ?? 0,
        (PodSandboxState)s.State,
        FromNanoseconds(s.CreatedAt),
        Map(s.Labels),
        Map(s.Annotations),
        s.RuntimeHandler);

    public static SandboxStatusInfo FromCri(Cri.PodSandboxStatus s) => new(
        s.Id,
        s.Metadata?.Name ?? string.Empty,
        s.Metadata?.Namespace ?? string.Empty,
        s.Metadata?.Uid ?? string.Empty,
        s.Metadata?.Attempt ?? 0,
        (PodSandboxState)s.State,
        FromNanoseconds(s.CreatedAt),
        string.IsNullOrEmpty(s.Network?.Ip) ? null : s.Network.Ip,
        s.Network?.AdditionalIps.Select(ip => ip.Ip).ToArray() ?? [],
        s.Linux?.Namespaces?.Options?.Network == Cri.NamespaceMode.Node,
        Map(s.Labels),
        Map(s.Annotations),
        s.RuntimeHandler);

    public static ContainerInfo FromCri(Cri.Container c) => new(
        c.Id,
        c.PodSandboxId,
        c.Metadata?.Name ?? string.Empty,
        c.Metadata?.Attempt ?? 0,
        c.Image?.Image ?? string.Empty,
        c.ImageRef,
        (ContainerState)c.State,
        FromNanoseconds(c.CreatedAt),
        Map(c.Labels),
        Map(c.Annotations));

    public static ContainerStatusInfo FromCri(Cri.ContainerStatus c) => new(
        c.Id,
        c.Metadata?.Name ?? string.Empty,
        c.Metadata?.Attempt ?? 0,
        (ContainerState)c.State,
        FromNanoseconds(c.CreatedAt),
        FromNanoseconds(c.StartedAt),
        FromNanoseconds(c.FinishedAt),
        c.ExitCode,
        c.Reason,
        c.Message,
        c.Image?.Image ?? string.Empty,
        c.ImageRef,
        c.LogPath,
        Map(c.Labels),
        Map(c.Annotations));

    public static ImageInfo FromCri(Cri.Image i) => new(
        i.Id,
        i.RepoTags.ToArray(),
        i.RepoDigests.ToArray(),
        i.Size,
        i.Uid?.Value,
        i.Username,
        i.Pinned);

    public static ImageFilesystemInfo FromCri(Cri.FilesystemUsage u) => new(
        u.FsId?.Mountpoint ?? string.Empty,
        u.UsedBytes?.Value ?? 0,
        u.InodesUsed?.Value ?? 0,
        FromNanoseconds(u.Timestamp));

    /// <summary>CRI times are nanoseconds since the Unix epoch; 0 means "not set".</summary>
    public static DateTimeOffset? FromNanoseconds(long nanoseconds)
        => nanoseconds <= 0 ? null : DateTimeOffset.UnixEpoch.AddTicks(nanoseconds / 100);

    private static IReadOnlyDictionary<string, string> Map(MapField<string, string> map)
        => map.Count == 0 ? PodSandboxSpec.EmptyMap : new Dictionary<string, string>(map);

    private static Cri.Int64Value? Int64(long? value) => value is { } v ? new Cri.Int64Value { Value = v } : null;

    private static Cri.SupplementalGroupsPolicy GroupsPolicy(bool strict) => strict ? Cri.SupplementalGroupsPolicy.Strict : Cri.SupplementalGroupsPolicy.Merge;

    /// <summary>
    /// Lets a CRI message's map field take the engine's maps in an object initializer (<c>Labels = { spec.Labels }</c>);
    /// a null map adds nothing.
    /// </summary>
    private static void Add(this MapField<string, string> target, IReadOnlyDictionary<string, string>? source)
    {
        foreach (var (key, value) in source ?? PodSandboxSpec.EmptyMap)
        {
            target[key] = value;
        }
    }
}
