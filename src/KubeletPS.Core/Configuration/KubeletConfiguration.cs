namespace KubeletPS.Core.Configuration;

// kubelet.config.k8s.io/v1beta1 KubeletConfiguration, field for field, in the order of
// k8s.io/kubelet/config/v1beta1/types.go. The C# types keep Go's distinction that decides
// defaulting: a plain value (string, int, TimeSpan) is defaulted when it is zero ("", 0, 0s);
// a nullable one (Go pointer, slice or map) only when it is absent or null, so an explicit
// 0, false, "" or {} stays as written. Quantities (10Mi, 100m, 5%) stay strings.

public sealed class KubeletConfiguration
{
    public const string ApiGroupVersion = "kubelet.config.k8s.io/v1beta1";
    public const string KindName = "KubeletConfiguration";

    [ConfigField("apiVersion")] public string ApiVersion { get; set; } = "";
    [ConfigField("kind")] public string Kind { get; set; } = "";

    [ConfigField("enableServer")] public bool? EnableServer { get; set; }
    [ConfigField("staticPodPath")] public string StaticPodPath { get; set; } = "";
    [ConfigField("podLogsDir")] public string PodLogsDir { get; set; } = "";
    [ConfigField("syncFrequency")] public TimeSpan SyncFrequency { get; set; }
    [ConfigField("fileCheckFrequency")] public TimeSpan FileCheckFrequency { get; set; }
    [ConfigField("httpCheckFrequency")] public TimeSpan HttpCheckFrequency { get; set; }
    [ConfigField("staticPodURL")] public string StaticPodUrl { get; set; } = "";
    // The headers carry the pod URL's credentials (Authorization): never shown.
    [ConfigField("staticPodURLHeader", Secret = true)] public Dictionary<string, List<string>>? StaticPodUrlHeader { get; set; }
    [ConfigField("address")] public string Address { get; set; } = "";
    [ConfigField("port")] public int Port { get; set; }
    [ConfigField("readOnlyPort")] public int ReadOnlyPort { get; set; }
    [ConfigField("tlsCertFile")] public string TlsCertFile { get; set; } = "";
    [ConfigField("tlsPrivateKeyFile")] public string TlsPrivateKeyFile { get; set; } = "";
    [ConfigField("tlsCipherSuites")] public List<string>? TlsCipherSuites { get; set; }
    [ConfigField("tlsCurvePreferences")] public List<int>? TlsCurvePreferences { get; set; }
    [ConfigField("tlsMinVersion")] public string TlsMinVersion { get; set; } = "";
    [ConfigField("rotateCertificates")] public bool RotateCertificates { get; set; }
    [ConfigField("serverTLSBootstrap")] public bool ServerTlsBootstrap { get; set; }
    [ConfigField("authentication")] public KubeletAuthentication Authentication { get; set; } = new();
    [ConfigField("authorization")] public KubeletAuthorization Authorization { get; set; } = new();
    [ConfigField("registryPullQPS")] public int? RegistryPullQps { get; set; }
    [ConfigField("registryBurst")] public int RegistryBurst { get; set; }
    [ConfigField("imagePullCredentialsVerificationPolicy")] public string ImagePullCredentialsVerificationPolicy { get; set; } = "";
    [ConfigField("preloadedImagesVerificationAllowlist")] public List<string>? PreloadedImagesVerificationAllowlist { get; set; }
    [ConfigField("eventRecordQPS")] public int? EventRecordQps { get; set; }
    [ConfigField("eventBurst")] public int EventBurst { get; set; }
    [ConfigField("enableDebuggingHandlers")] public bool? EnableDebuggingHandlers { get; set; }
    [ConfigField("enableContentionProfiling")] public bool EnableContentionProfiling { get; set; }
    [ConfigField("healthzPort")] public int? HealthzPort { get; set; }
    [ConfigField("healthzBindAddress")] public string HealthzBindAddress { get; set; } = "";
    [ConfigField("oomScoreAdj")] public int? OomScoreAdj { get; set; }
    [ConfigField("clusterDomain")] public string ClusterDomain { get; set; } = "";
    [ConfigField("clusterDNS")] public List<string>? ClusterDns { get; set; }
    [ConfigField("streamingConnectionIdleTimeout")] public TimeSpan StreamingConnectionIdleTimeout { get; set; }
    [ConfigField("nodeStatusUpdateFrequency")] public TimeSpan NodeStatusUpdateFrequency { get; set; }
    [ConfigField("nodeStatusReportFrequency")] public TimeSpan NodeStatusReportFrequency { get; set; }
    [ConfigField("nodeLeaseDurationSeconds")] public int NodeLeaseDurationSeconds { get; set; }
    [ConfigField("imageMinimumGCAge")] public TimeSpan ImageMinimumGCAge { get; set; }
    [ConfigField("imageMaximumGCAge")] public TimeSpan ImageMaximumGCAge { get; set; }
    [ConfigField("imageGCHighThresholdPercent")] public int? ImageGCHighThresholdPercent { get; set; }
    [ConfigField("imageGCLowThresholdPercent")] public int? ImageGCLowThresholdPercent { get; set; }
    [ConfigField("volumeStatsAggPeriod")] public TimeSpan VolumeStatsAggPeriod { get; set; }
    [ConfigField("kubeletCgroups")] public string KubeletCgroups { get; set; } = "";
    [ConfigField("systemCgroups")] public string SystemCgroups { get; set; } = "";
    [ConfigField("cgroupRoot")] public string CgroupRoot { get; set; } = "";
    [ConfigField("cgroupsPerQOS")] public bool? CgroupsPerQos { get; set; }
    [ConfigField("cgroupDriver")] public string CgroupDriver { get; set; } = "";
    [ConfigField("cpuManagerPolicy")] public string CpuManagerPolicy { get; set; } = "";
    [ConfigField("singleProcessOOMKill")] public bool? SingleProcessOomKill { get; set; }
    [ConfigField("cpuManagerPolicyOptions")] public Dictionary<string, string>? CpuManagerPolicyOptions { get; set; }
    [ConfigField("cpuManagerReconcilePeriod")] public TimeSpan CpuManagerReconcilePeriod { get; set; }
    [ConfigField("draManagerReconcilePeriod")] public TimeSpan DraManagerReconcilePeriod { get; set; }
    [ConfigField("memoryManagerPolicy")] public string MemoryManagerPolicy { get; set; } = "";
    [ConfigField("topologyManagerPolicy")] public string TopologyManagerPolicy { get; set; } = "";
    [ConfigField("topologyManagerScope")] public string TopologyManagerScope { get; set; } = "";
    [ConfigField("topologyManagerPolicyOptions")] public Dictionary<string, string>? TopologyManagerPolicyOptions { get; set; }
    [ConfigField("qosReserved")] public Dictionary<string, string>? QosReserved { get; set; }
    [ConfigField("runtimeRequestTimeout")] public TimeSpan RuntimeRequestTimeout { get; set; }
    [ConfigField("hairpinMode")] public string HairpinMode { get; set; } = "";
    [ConfigField("maxPods")] public int MaxPods { get; set; }
    [ConfigField("podCIDR")] public string PodCidr { get; set; } = "";
    [ConfigField("podPidsLimit")] public long? PodPidsLimit { get; set; }
    [ConfigField("resolvConf")] public string? ResolvConf { get; set; }
    [ConfigField("runOnce")] public bool RunOnce { get; set; }
    [ConfigField("cpuCFSQuota")] public bool? CpuCfsQuota { get; set; }
    [ConfigField("cpuCFSQuotaPeriod")] public TimeSpan? CpuCfsQuotaPeriod { get; set; }
    [ConfigField("nodeStatusMaxImages")] public int? NodeStatusMaxImages { get; set; }
    [ConfigField("maxOpenFiles")] public long MaxOpenFiles { get; set; }
    [ConfigField("contentType")] public string ContentType { get; set; } = "";
    [ConfigField("kubeAPIQPS")] public int? KubeApiQps { get; set; }
    [ConfigField("kubeAPIBurst")] public int KubeApiBurst { get; set; }
    [ConfigField("serializeImagePulls")] public bool? SerializeImagePulls { get; set; }
    [ConfigField("maxParallelImagePulls")] public int? MaxParallelImagePulls { get; set; }
    [ConfigField("evictionHard")] public Dictionary<string, string>? EvictionHard { get; set; }
    [ConfigField("evictionSoft")] public Dictionary<string, string>? EvictionSoft { get; set; }
    [ConfigField("evictionSoftGracePeriod")] public Dictionary<string, string>? EvictionSoftGracePeriod { get; set; }
    [ConfigField("evictionPressureTransitionPeriod")] public TimeSpan EvictionPressureTransitionPeriod { get; set; }
    [ConfigField("evictionMaxPodGracePeriod")] public int EvictionMaxPodGracePeriod { get; set; }
    [ConfigField("evictionMinimumReclaim")] public Dictionary<string, string>? EvictionMinimumReclaim { get; set; }
    [ConfigField("mergeDefaultEvictionSettings")] public bool? MergeDefaultEvictionSettings { get; set; }
    [ConfigField("podsPerCore")] public int PodsPerCore { get; set; }
    [ConfigField("enableControllerAttachDetach")] public bool? EnableControllerAttachDetach { get; set; }
    [ConfigField("protectKernelDefaults")] public bool ProtectKernelDefaults { get; set; }
    [ConfigField("makeIPTablesUtilChains")] public bool? MakeIPTablesUtilChains { get; set; }
    [ConfigField("iptablesMasqueradeBit")] public int? IPTablesMasqueradeBit { get; set; }
    [ConfigField("iptablesDropBit")] public int? IPTablesDropBit { get; set; }
    [ConfigField("featureGates")] public Dictionary<string, bool>? FeatureGates { get; set; }
    [ConfigField("failSwapOn")] public bool? FailSwapOn { get; set; }
    [ConfigField("memorySwap")] public MemorySwapConfiguration MemorySwap { get; set; } = new();
    [ConfigField("containerLogMaxSize")] public string ContainerLogMaxSize { get; set; } = "";
    [ConfigField("containerLogMaxFiles")] public int? ContainerLogMaxFiles { get; set; }
    [ConfigField("containerLogMaxWorkers")] public int? ContainerLogMaxWorkers { get; set; }
    [ConfigField("containerLogMonitorInterval")] public TimeSpan? ContainerLogMonitorInterval { get; set; }
    [ConfigField("configMapAndSecretChangeDetectionStrategy")] public string ConfigMapAndSecretChangeDetectionStrategy { get; set; } = "";
    [ConfigField("systemReserved")] public Dictionary<string, string>? SystemReserved { get; set; }
    [ConfigField("kubeReserved")] public Dictionary<string, string>? KubeReserved { get; set; }
    [ConfigField("reservedSystemCPUs")] public string ReservedSystemCpus { get; set; } = "";
    [ConfigField("showHiddenMetricsForVersion")] public string ShowHiddenMetricsForVersion { get; set; } = "";
    [ConfigField("systemReservedCgroup")] public string SystemReservedCgroup { get; set; } = "";
    [ConfigField("kubeReservedCgroup")] public string KubeReservedCgroup { get; set; } = "";
    [ConfigField("enforceNodeAllocatable")] public List<string>? EnforceNodeAllocatable { get; set; }
    [ConfigField("allowedUnsafeSysctls")] public List<string>? AllowedUnsafeSysctls { get; set; }
    [ConfigField("volumePluginDir")] public string VolumePluginDir { get; set; } = "";
    [ConfigField("providerID")] public string ProviderId { get; set; } = "";
    [ConfigField("kernelMemcgNotification")] public bool KernelMemcgNotification { get; set; }
    [ConfigField("logging")] public LoggingConfiguration Logging { get; set; } = new();
    [ConfigField("enableSystemLogHandler")] public bool? EnableSystemLogHandler { get; set; }
    [ConfigField("enableSystemLogQuery")] public bool? EnableSystemLogQuery { get; set; }
    [ConfigField("shutdownGracePeriod")] public TimeSpan ShutdownGracePeriod { get; set; }
    [ConfigField("shutdownGracePeriodCriticalPods")] public TimeSpan ShutdownGracePeriodCriticalPods { get; set; }
    [ConfigField("shutdownGracePeriodByPodPriority")] public List<ShutdownGracePeriodByPodPriority>? ShutdownGracePeriodByPodPriority { get; set; }
    [ConfigField("crashLoopBackOff")] public CrashLoopBackOffConfig CrashLoopBackOff { get; set; } = new();
    [ConfigField("reservedMemory")] public List<MemoryReservation>? ReservedMemory { get; set; }
    [ConfigField("enableProfilingHandler")] public bool? EnableProfilingHandler { get; set; }
    [ConfigField("enableDebugFlagsHandler")] public bool? EnableDebugFlagsHandler { get; set; }
    [ConfigField("seccompDefault")] public bool? SeccompDefault { get; set; }
    [ConfigField("memoryThrottlingFactor")] public double? MemoryThrottlingFactor { get; set; }
    [ConfigField("memoryReservationPolicy")] public string MemoryReservationPolicy { get; set; } = "";
    [ConfigField("registerWithTaints")] public List<Taint>? RegisterWithTaints { get; set; }
    [ConfigField("registerNode")] public bool? RegisterNode { get; set; }
    [ConfigField("tracing")] public TracingConfiguration? Tracing { get; set; }
    [ConfigField("localStorageCapacityIsolation")] public bool? LocalStorageCapacityIsolation { get; set; }
    [ConfigField("containerRuntimeEndpoint")] public string ContainerRuntimeEndpoint { get; set; } = "";
    [ConfigField("imageServiceEndpoint")] public string ImageServiceEndpoint { get; set; } = "";
    [ConfigField("failCgroupV1")] public bool? FailCgroupV1 { get; set; }
    [ConfigField("userNamespaces")] public UserNamespaces? UserNamespaces { get; set; }
    [ConfigField("podHousekeepingPeriod")] public TimeSpan? PodHousekeepingPeriod { get; set; }

    /// <summary>
    /// The fields whose values are file paths, which kubelet resolves against the config
    /// file's folder when relative (KubeletConfigurationPathRefs in pkg/kubelet/apis/config).
    /// </summary>
    internal IEnumerable<(string Field, Func<string?> Get, Action<string> Set)> PathFields() =>
    [
        ("staticPodPath", () => StaticPodPath, v => StaticPodPath = v),
        ("authentication.x509.clientCAFile", () => Authentication.X509.ClientCAFile, v => Authentication.X509.ClientCAFile = v),
        ("tlsCertFile", () => TlsCertFile, v => TlsCertFile = v),
        ("tlsPrivateKeyFile", () => TlsPrivateKeyFile, v => TlsPrivateKeyFile = v),
        ("resolvConf", () => ResolvConf, v => ResolvConf = v),
        ("volumePluginDir", () => VolumePluginDir, v => VolumePluginDir = v),
        ("podLogsDir", () => PodLogsDir, v => PodLogsDir = v),
    ];
}

public sealed class KubeletAuthentication
{
    [ConfigField("x509")] public KubeletX509Authentication X509 { get; set; } = new();
    [ConfigField("webhook")] public KubeletWebhookAuthentication Webhook { get; set; } = new();
    [ConfigField("anonymous")] public KubeletAnonymousAuthentication Anonymous { get; set; } = new();
}

public sealed class KubeletX509Authentication
{
    [ConfigField("clientCAFile")] public string ClientCAFile { get; set; } = "";
}

public sealed class KubeletWebhookAuthentication
{
    [ConfigField("enabled")] public bool? Enabled { get; set; }
    [ConfigField("cacheTTL")] public TimeSpan CacheTtl { get; set; }
}

public sealed class KubeletAnonymousAuthentication
{
    [ConfigField("enabled")] public bool? Enabled { get; set; }
}

public sealed class KubeletAuthorization
{
    [ConfigField("mode")] public string Mode { get; set; } = "";
    [ConfigField("webhook")] public KubeletWebhookAuthorization Webhook { get; set; } = new();
}

public sealed class KubeletWebhookAuthorization
{
    [ConfigField("cacheAuthorizedTTL")] public TimeSpan CacheAuthorizedTtl { get; set; }
    [ConfigField("cacheUnauthorizedTTL")] public TimeSpan CacheUnauthorizedTtl { get; set; }
}

public sealed class MemorySwapConfiguration
{
    [ConfigField("swapBehavior")] public string SwapBehavior { get; set; } = "";
}

public sealed class CrashLoopBackOffConfig
{
    [ConfigField("maxContainerRestartPeriod")] public TimeSpan? MaxContainerRestartPeriod { get; set; }
}

public sealed class ShutdownGracePeriodByPodPriority
{
    [ConfigField("priority")] public int Priority { get; set; }
    [ConfigField("shutdownGracePeriodSeconds")] public long ShutdownGracePeriodSeconds { get; set; }
}

public sealed class MemoryReservation
{
    [ConfigField("numaNode")] public int NumaNode { get; set; }
    [ConfigField("limits")] public Dictionary<string, string>? Limits { get; set; }
}

/// <summary>core/v1 Taint, as registerWithTaints takes it.</summary>
public sealed class Taint
{
    [ConfigField("key")] public string Key { get; set; } = "";
    [ConfigField("value")] public string Value { get; set; } = "";
    [ConfigField("effect")] public string Effect { get; set; } = "";
    [ConfigField("timeAdded")] public string? TimeAdded { get; set; }
}

/// <summary>component-base/tracing/api/v1 TracingConfiguration.</summary>
public sealed class TracingConfiguration
{
    [ConfigField("endpoint")] public string? Endpoint { get; set; }
    [ConfigField("samplingRatePerMillion")] public int? SamplingRatePerMillion { get; set; }
}

public sealed class UserNamespaces
{
    [ConfigField("idsPerPod")] public long? IdsPerPod { get; set; }
}

/// <summary>component-base/logs/api/v1 LoggingConfiguration.</summary>
public sealed class LoggingConfiguration
{
    [ConfigField("format")] public string Format { get; set; } = "";
    [ConfigField("flushFrequency", AcceptsNanoseconds = true)] public TimeSpan FlushFrequency { get; set; }
    [ConfigField("verbosity")] public long Verbosity { get; set; }
    [ConfigField("vmodule")] public List<VModuleItem>? VModule { get; set; }
    [ConfigField("options")] public LoggingFormatOptions Options { get; set; } = new();
}

public sealed class VModuleItem
{
    [ConfigField("filePattern")] public string FilePattern { get; set; } = "";
    [ConfigField("verbosity")] public long Verbosity { get; set; }
}

public sealed class LoggingFormatOptions
{
    [ConfigField("text")] public LoggingOutputOptions Text { get; set; } = new();
    [ConfigField("json")] public LoggingOutputOptions Json { get; set; } = new();
}

public sealed class LoggingOutputOptions
{
    [ConfigField("splitStream")] public bool SplitStream { get; set; }
    [ConfigField("infoBufferSize")] public string InfoBufferSize { get; set; } = "";
}
