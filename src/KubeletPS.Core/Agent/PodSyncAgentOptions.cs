using KubeletPS.Core.Configuration;
using KubeletPS.Core.Pods.Config;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Pods.Gc;
using KubeletPS.Core.Pods.Images;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Logs;
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

    /// <summary>Image GC thresholds and ages (KubeletConfiguration imageGC*Percent, imageMinimumGCAge, imageMaximumGCAge).</summary>
    public ImageGcPolicy ImageGc { get; init; } = new();

    /// <summary>Container GC limits (kubelet's deprecated flags; kubelet's defaults).</summary>
    public ContainerGcPolicy ContainerGc { get; init; } = new();

    /// <summary>How often images are garbage collected (kubelet: 5 min).</summary>
    public TimeSpan ImageGcPeriod { get; init; } = ImageGcManager.DefaultPeriod;

    /// <summary>How often dead containers, sandboxes and gone pods' directories are collected (kubelet: 1 min).</summary>
    public TimeSpan ContainerGcPeriod { get; init; } = Pods.Gc.ContainerGc.DefaultPeriod;

    /// <summary>The sandbox (pause) image image GC keeps; null asks a CRI runtime for its sandbox image at start.</summary>
    public string? SandboxImage { get; init; }
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

    /// <summary>Where pod starts, pod syncs, PLEG relists and started pods are observed (/metrics); none when null.</summary>
    public Metrics.KubeletMetricSet? Metrics { get; init; }
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>KubeletConfiguration seccompDefault: containers without a seccomp profile run with the runtime's default.</summary>
    public bool SeccompDefault { get; init; }

    /// <summary>KubeletConfiguration allowedUnsafeSysctls: sysctls (or prefixes ending in *) admitted besides kubelet's safe set.</summary>
    public IReadOnlyList<string> AllowedUnsafeSysctls { get; init; } = [];

    /// <summary>KubeletConfiguration serializeImagePulls: one image pull at a time node-wide (here off unless set; the config's default is on).</summary>
    public bool SerializeImagePulls { get; init; }

    /// <summary>KubeletConfiguration maxParallelImagePulls: pulls at once when not serialized; null is no limit.</summary>
    public int? MaxParallelImagePulls { get; init; }

    /// <summary>KubeletConfiguration registryPullQPS (0: no limit) and registryBurst: the token bucket every CRI PullImage draws on.</summary>
    public double RegistryPullQps { get; init; }

    public int RegistryBurst { get; init; }
    /// <summary>containerLogMaxSize/MaxFiles/MaxWorkers/MonitorInterval: running containers' logs rotated by a <see cref="ContainerLogManager"/>; null rotates none.</summary>
    public ContainerLogRotationPolicy? ContainerLogRotation { get; init; }

    /// <summary>The options a kubelet configuration gives (staticPodPath, containerRuntimeEndpoint, frequencies, DNS, podLogsDir).</summary>
    /// <summary>
    /// The container manager's settings (QoS and pod cgroups, node allocatable); null creates no cgroups and
    /// leaves each sandbox in the runtime's default parent (tests on an in-memory runtime).
    /// </summary>
    public Cm.ContainerManagerOptions? Cgroups { get; init; }

    /// <summary>The options a kubelet configuration gives (staticPodPath, containerRuntimeEndpoint, frequencies, DNS, podLogsDir, cgroups).</summary>
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
        ImageGc = ImageGcPolicy.FromConfiguration(configuration),
        SerializeImagePulls = configuration.SerializeImagePulls ?? true,
        MaxParallelImagePulls = configuration.MaxParallelImagePulls,
        RegistryPullQps = configuration.RegistryPullQps ?? 5,
        RegistryBurst = configuration.RegistryBurst,
        ContainerLogRotation = ContainerLogRotationPolicy.FromConfiguration(configuration),
        Cgroups = Cm.ContainerManagerOptions.FromConfiguration(configuration),
    };
}
