namespace KubeletPS.Core.Configuration;

/// <summary>
/// Applies kubelet's defaults exactly as SetDefaults_KubeletConfiguration does
/// (pkg/kubelet/apis/config/v1beta1/defaults.go): a plain field is defaulted when zero,
/// a nullable (pointer) field when absent. Read it side by side with defaults.go.
/// </summary>
public static class KubeletConfigurationDefaults
{
    /// <summary>kubelet's --root-dir default (cmd/kubelet/app/options: defaultRootDir).</summary>
    public const string DefaultRootDirectory = "/var/lib/kubelet";
    /// <summary>kubelet --cert-dir default.</summary>
    public const string DefaultCertificateDirectory = "/var/lib/kubelet/pki";
    public const string DefaultContainerRuntimeEndpoint = "unix:///run/containerd/containerd.sock";
    public const string DefaultVolumePluginDir = "/usr/libexec/kubernetes/kubelet-plugins/volume/exec/";
    public const string DefaultPodLogsDir = "/var/log/pods";
    public const string DefaultResolvConf = "/etc/resolv.conf";

    /// <summary>Linux hard eviction thresholds kubelet uses when evictionHard is not set (pkg/kubelet/eviction).</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> DefaultEvictionHard { get; } =
    [
        new("memory.available", "100Mi"),
        new("nodefs.available", "10%"),
        new("nodefs.inodesFree", "5%"),
        new("imagefs.available", "15%"),
        new("imagefs.inodesFree", "5%"),
    ];

    public static void Apply(KubeletConfiguration c)
    {
        var gates = c.FeatureGates ?? [];
        c.EnableServer ??= true;
        if (c.SyncFrequency == TimeSpan.Zero) c.SyncFrequency = TimeSpan.FromMinutes(1);
        if (c.FileCheckFrequency == TimeSpan.Zero) c.FileCheckFrequency = TimeSpan.FromSeconds(20);
        if (c.HttpCheckFrequency == TimeSpan.Zero) c.HttpCheckFrequency = TimeSpan.FromSeconds(20);
        if (c.Address == "") c.Address = "0.0.0.0";
        if (c.Port == 0) c.Port = 10250;
        c.Authentication.Anonymous.Enabled ??= false;
        c.Authentication.Webhook.Enabled ??= true;
        if (c.Authentication.Webhook.CacheTtl == TimeSpan.Zero) c.Authentication.Webhook.CacheTtl = TimeSpan.FromMinutes(2);
        if (c.Authorization.Mode == "") c.Authorization.Mode = "Webhook";
        if (c.Authorization.Webhook.CacheAuthorizedTtl == TimeSpan.Zero) c.Authorization.Webhook.CacheAuthorizedTtl = TimeSpan.FromMinutes(5);
        if (c.Authorization.Webhook.CacheUnauthorizedTtl == TimeSpan.Zero) c.Authorization.Webhook.CacheUnauthorizedTtl = TimeSpan.FromSeconds(30);
        c.RegistryPullQps ??= 5;
        if (c.RegistryBurst == 0) c.RegistryBurst = 10;
        c.EventRecordQps ??= 50;
        if (c.EventBurst == 0) c.EventBurst = 100;
        c.EnableDebuggingHandlers ??= true;
        c.HealthzPort ??= 10248;
        if (c.HealthzBindAddress == "") c.HealthzBindAddress = "127.0.0.1";
        c.OomScoreAdj ??= -999; // qos.KubeletOOMScoreAdj
        if (c.StreamingConnectionIdleTimeout == TimeSpan.Zero) c.StreamingConnectionIdleTimeout = TimeSpan.FromHours(4);
        if (c.NodeStatusReportFrequency == TimeSpan.Zero)
        {
            // For backward compatibility an explicit nodeStatusUpdateFrequency is also the report frequency.
            c.NodeStatusReportFrequency = c.NodeStatusUpdateFrequency == TimeSpan.Zero ? TimeSpan.FromMinutes(5) : c.NodeStatusUpdateFrequency;
        }
        if (c.NodeStatusUpdateFrequency == TimeSpan.Zero) c.NodeStatusUpdateFrequency = TimeSpan.FromSeconds(10);
        if (c.NodeLeaseDurationSeconds == 0) c.NodeLeaseDurationSeconds = 40;
        if (c.ImageMinimumGCAge == TimeSpan.Zero) c.ImageMinimumGCAge = TimeSpan.FromMinutes(2);
        c.ImageGCHighThresholdPercent ??= 85;
        c.ImageGCLowThresholdPercent ??= 80;
        if (c.VolumeStatsAggPeriod == TimeSpan.Zero) c.VolumeStatsAggPeriod = TimeSpan.FromMinutes(1);
        c.CgroupsPerQos ??= true;
        if (c.CgroupDriver == "") c.CgroupDriver = "cgroupfs";
        if (c.CpuManagerPolicy == "") c.CpuManagerPolicy = "none";
        if (c.CpuManagerReconcilePeriod == TimeSpan.Zero) c.CpuManagerReconcilePeriod = TimeSpan.FromSeconds(10);
        if (c.MemoryManagerPolicy == "") c.MemoryManagerPolicy = "None";
        if (c.TopologyManagerPolicy == "") c.TopologyManagerPolicy = "none";
        if (c.TopologyManagerScope == "") c.TopologyManagerScope = "container";
        if (c.RuntimeRequestTimeout == TimeSpan.Zero) c.RuntimeRequestTimeout = TimeSpan.FromMinutes(2);
        if (c.HairpinMode == "") c.HairpinMode = "promiscuous-bridge";
        if (c.MaxPods == 0) c.MaxPods = 110;
        if (c.PodPidsLimit is null or < 0) c.PodPidsLimit = -1; // nil or negative: the node-allocatable pid limit
        c.ResolvConf ??= DefaultResolvConf; // an explicit "" disables DNS lookups and is kept
        c.CpuCfsQuota ??= true;
        c.CpuCfsQuotaPeriod ??= TimeSpan.FromMilliseconds(100);
        c.NodeStatusMaxImages ??= 50;
        if (c.MaxOpenFiles == 0) c.MaxOpenFiles = 1_000_000;
        if (c.ContentType == "") c.ContentType = "application/vnd.kubernetes.protobuf";
        c.KubeApiQps ??= 50;
        if (c.KubeApiBurst == 0) c.KubeApiBurst = 100;
        // serializeImagePulls follows maxParallelImagePulls when that is set to 2 or more.
        c.SerializeImagePulls ??= c.MaxParallelImagePulls is null or < 2;
        if (c.EvictionPressureTransitionPeriod == TimeSpan.Zero) c.EvictionPressureTransitionPeriod = TimeSpan.FromMinutes(5);
        c.MergeDefaultEvictionSettings ??= false;
        ApplyEvictionHard(c);
        c.EnableControllerAttachDetach ??= true;
        c.MakeIPTablesUtilChains ??= true;
        c.IPTablesMasqueradeBit ??= 14;
        c.IPTablesDropBit ??= 15;
        c.FailSwapOn ??= true;
        if (c.ContainerLogMaxSize == "") c.ContainerLogMaxSize = "10Mi";
        c.ContainerLogMaxFiles ??= 5;
        c.ContainerLogMaxWorkers ??= 1;
        c.ContainerLogMonitorInterval ??= TimeSpan.FromSeconds(10);
        if (c.ConfigMapAndSecretChangeDetectionStrategy == "") c.ConfigMapAndSecretChangeDetectionStrategy = "Watch";
        c.EnforceNodeAllocatable ??= ["pods"];
        if (c.VolumePluginDir == "") c.VolumePluginDir = DefaultVolumePluginDir;
        ApplyLogging(c.Logging);
        c.EnableSystemLogHandler ??= true;
        c.EnableProfilingHandler ??= true;
        c.EnableDebugFlagsHandler ??= true;
        c.SeccompDefault ??= false;
        c.FailCgroupV1 ??= false;
        c.MemoryThrottlingFactor ??= 0.9;
        c.RegisterNode ??= true;
        c.LocalStorageCapacityIsolation ??= true;
        if (c.ContainerRuntimeEndpoint == "") c.ContainerRuntimeEndpoint = DefaultContainerRuntimeEndpoint;
        if (c.PodLogsDir == "") c.PodLogsDir = DefaultPodLogsDir;
        // Gated defaults: only gates the file turns on are known here (the built-in gate defaults vary by release).
        if (gates.GetValueOrDefault("KubeletCrashLoopBackOffMax"))
        {
            c.CrashLoopBackOff.MaxContainerRestartPeriod ??= TimeSpan.FromSeconds(300);
        }
        if (gates.GetValueOrDefault("KubeletEnsureSecretPulledImages") && c.ImagePullCredentialsVerificationPolicy == "")
        {
            c.ImagePullCredentialsVerificationPolicy = "NeverVerifyPreloadedImages";
        }
        c.PodHousekeepingPeriod ??= TimeSpan.FromSeconds(2);
    }

    /// <summary>
    /// evictionHard is defaulted only when absent (an explicit {} disables hard eviction);
    /// with mergeDefaultEvictionSettings the defaults fill in the signals the file leaves out.
    /// </summary>
    private static void ApplyEvictionHard(KubeletConfiguration c)
    {
        if (c.EvictionHard is null)
        {
            c.EvictionHard = DefaultEvictionHard.ToDictionary(p => p.Key, p => p.Value);
        }
        else if (c.MergeDefaultEvictionSettings == true)
        {
            foreach (var (signal, threshold) in DefaultEvictionHard) c.EvictionHard.TryAdd(signal, threshold);
        }
    }

    /// <summary>logsapi.SetRecommendedLoggingConfiguration.</summary>
    private static void ApplyLogging(LoggingConfiguration logging)
    {
        if (logging.Format == "") logging.Format = "text";
        if (logging.FlushFrequency == TimeSpan.Zero) logging.FlushFrequency = TimeSpan.FromSeconds(5);
        if (logging.Options.Text.InfoBufferSize == "") logging.Options.Text.InfoBufferSize = "0";
        if (logging.Options.Json.InfoBufferSize == "") logging.Options.Json.InfoBufferSize = "0";
    }
}
