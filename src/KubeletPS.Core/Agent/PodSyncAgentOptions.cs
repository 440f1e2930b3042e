using KubeletPS.Core.Configuration;
using KubeletPS.Core.Pods.Config;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Pods.Images;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Objects;
using KubeletPS.Core.Pods.Status;
using KubeletPS.Core.Pods.Workers;

namespace KubeletPS.Core.Agent;

/// <summary>What <see cref="PodSyncAgent"/> runs with; <see cref="FromConfiguration"/> takes the values kubelet's config file gives.</summary>
public sealed record PodSyncAgentOptions
{
    public required string NodeName { get; init; }

    /// <summary>The static pod folder; null or empty runs no file source.</summary>
    public string? StaticPodPath { get; init; }

    public string RuntimeEndpoint { get; init; } = KubeletConfigurationDefaults.DefaultContainerRuntimeEndpoint;
    public TimeSpan RuntimeRequestTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// The runtime and image services to use instead of a CRI client for <see cref="RuntimeEndpoint"/>
    /// (both or neither; the caller owns and disposes them). Tests pass an in-memory runtime.
    /// </summary>
    public (Runtime.IRuntimeService Runtime, Runtime.IImageService Images)? RuntimeServices { get; init; }

    /// <summary>Kubelet's root directory: pod volumes and the local pod status store live under {root}/pods.</summary>
    public string RootDirectory { get; init; } = KubeletConfigurationDefaults.DefaultRootDirectory;

    /// <summary>The node's /var/log/pods.</summary>
    public string PodLogsDirectory { get; init; } = KubeletConfigurationDefaults.DefaultPodLogsDir;

    public TimeSpan FileCheckFrequency { get; init; } = TimeSpan.FromSeconds(20);
    public TimeSpan SyncFrequency { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How often PLEG relists the runtime (kubelet: 1 s).</summary>
    public TimeSpan RelistPeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the eviction manager measures emptyDir volumes against their sizeLimit (kubelet: 10 s).</summary>
    public TimeSpan EvictionMonitoringPeriod { get; init; } = EmptyDirLimits.DefaultMonitoringPeriod;

    /// <summary>The eviction manager (thresholds, signals, pressure conditions); null checks emptyDir sizeLimits only, every <see cref="EvictionMonitoringPeriod"/>.</summary>
    public EvictionManager? Eviction { get; init; }

    public IReadOnlyList<string> ClusterDns { get; init; } = [];
    public string ClusterDomain { get; init; } = "";
    public string? ResolvConf { get; init; } = KubeletConfigurationDefaults.DefaultResolvConf;

    /// <summary>The node's IP for status.hostIP and host-network pods; null picks the first non-loopback IPv4 address.</summary>
    public string? NodeIp { get; init; }

    /// <summary>How many pod sandboxes are created at once (see <see cref="KubeGenericRuntimeManager.MaxParallelSandboxCreations"/>).</summary>
    public int MaxParallelSandboxCreations { get; init; } = KubeGenericRuntimeManager.DefaultParallelSandboxCreations;

    /// <summary>Kill and remove every pod when the agent stops (default: pods keep running, as when kubelet stops).</summary>
    public bool StopPodsOnExit { get; init; }

    public TimeSpan CrashLoopBackOffBase { get; init; } = CrashLoopBackOff.DefaultBase;
    public TimeSpan CrashLoopBackOffMax { get; init; } = CrashLoopBackOff.DefaultMax;
    public TimeSpan CrashLoopBackOffResetAfter { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Pod sources besides (or instead of) the static pod folder, e.g. the API server later.</summary>
    public IReadOnlyList<IPodSource> AdditionalSources { get; init; } = [];

    /// <summary>Where statuses go; default the local store under <see cref="RootDirectory"/>.</summary>
    public IPodStatusSink? StatusSink { get; init; }

    public IKubeletLog Log { get; init; } = NullKubeletLog.Instance;

    /// <summary>Configmaps and secrets for volumes and env (the API server with the full agent); none when null.</summary>
    public IPodConfigObjects? ConfigObjects { get; init; }

    /// <summary>
    /// The node's allocatable resources (the registered Node's status with the full agent), for
    /// downward API limits a container does not set; null reads the machine's capacity.
    /// </summary>
    public Func<IReadOnlyDictionary<string, k8s.Models.ResourceQuantity>>? NodeAllocatable { get; init; }

    /// <summary>Where pod events go (the API server's events with the full agent); none when null.</summary>
    public IEventRecorder? Events { get; init; }
    public IProgress<ImagePullProgress>? ImagePullProgress { get; init; }
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>KubeletConfiguration seccompDefault: containers without a seccomp profile run with the runtime's default.</summary>
    public bool SeccompDefault { get; init; }

    /// <summary>KubeletConfiguration allowedUnsafeSysctls: sysctls (or prefixes ending in *) admitted besides kubelet's safe set.</summary>
    public IReadOnlyList<string> AllowedUnsafeSysctls { get; init; } = [];

    /// <summary>The options a kubelet configuration gives (staticPodPath, containerRuntimeEndpoint, frequencies, DNS, podLogsDir).</summary>
    public static PodSyncAgentOptions FromConfiguration(KubeletConfiguration configuration, string nodeName) => new()
    {
        NodeName = nodeName,
        StaticPodPath = string.IsNullOrEmpty(configuration.StaticPodPath) ? null : configuration.StaticPodPath,
        RuntimeEndpoint = string.IsNullOrEmpty(configuration.ContainerRuntimeEndpoint) ? KubeletConfigurationDefaults.DefaultContainerRuntimeEndpoint : configuration.ContainerRuntimeEndpoint,
        RuntimeRequestTimeout = configuration.RuntimeRequestTimeout > TimeSpan.Zero ? configuration.RuntimeRequestTimeout : TimeSpan.FromMinutes(2),
        PodLogsDirectory = string.IsNullOrEmpty(configuration.PodLogsDir) ? KubeletConfigurationDefaults.DefaultPodLogsDir : configuration.PodLogsDir,
        FileCheckFrequency = configuration.FileCheckFrequency > TimeSpan.Zero ? configuration.FileCheckFrequency : TimeSpan.FromSeconds(20),
        SyncFrequency = configuration.SyncFrequency > TimeSpan.Zero ? configuration.SyncFrequency : TimeSpan.FromMinutes(1),
        ClusterDns = configuration.ClusterDns ?? [],
        ClusterDomain = configuration.ClusterDomain,
        ResolvConf = configuration.ResolvConf,
        SeccompDefault = configuration.SeccompDefault == true,
        AllowedUnsafeSysctls = configuration.AllowedUnsafeSysctls ?? [],
    };
}
