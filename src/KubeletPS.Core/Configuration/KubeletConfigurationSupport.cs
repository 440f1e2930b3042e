using System.Reflection;
using KubeletPS.Core.Configuration.Yaml;

namespace KubeletPS.Core.Configuration;

/// <summary>
/// Which KubeletConfiguration fields the agent acts on: the one place that says so. Each field
/// (by its path in the file, nested objects by their leaves) is either <see cref="InEffect"/> or
/// carries the short reason it is not; a file that sets a field that is not in effect is told
/// so (Get-KubeletConfig's NotInEffect, one warning when an agent starts). Making a field
/// effective is a one-line change here, in the same commit as the code that reads it. A test
/// fails when a [ConfigField] property has no line, so a new field cannot go undecided.
/// </summary>
public static class KubeletConfigurationSupport
{
    /// <summary>The entry of a field the agent acts on.</summary>
    private const string? InEffect = null;

    private const string NoServer = "the kubelet server does not implement this yet";
    private const string NoCgroups = "the container manager creates only kubepods, the QoS and the pod cgroups; this one is not acted upon";
    private const string NoResourceManagers = "no CPU, memory or topology manager yet";
    private const string NoShutdownManager = "no graceful node shutdown manager yet";
    private const string NoIptables = "the agent manages no iptables rules";
    private const string NoRateLimits = "the agent does not rate-limit this yet";
    private const string NoHttpSource = "the agent reads no pods from a URL";
    private const string OwnLogging = "the agent logs through PowerShell streams or the journal, not klog";

    private static readonly Dictionary<string, string?> Fields = new(StringComparer.Ordinal)
    {
        ["apiVersion"] = InEffect,
        ["kind"] = InEffect,
        ["enableServer"] = InEffect,
        ["staticPodPath"] = InEffect,
        ["podLogsDir"] = InEffect,
        ["syncFrequency"] = InEffect,
        ["fileCheckFrequency"] = InEffect,
        ["httpCheckFrequency"] = NoHttpSource,
        ["staticPodURL"] = NoHttpSource,
        ["staticPodURLHeader"] = NoHttpSource,
        ["address"] = InEffect,
        ["port"] = InEffect,
        ["readOnlyPort"] = "the kubelet server serves no read-only port (deprecated in kubelet)",
        ["tlsCertFile"] = InEffect,
        ["tlsPrivateKeyFile"] = InEffect,
        ["tlsCipherSuites"] = InEffect,
        ["tlsCurvePreferences"] = "the platform's TLS library chooses the curves",
        ["tlsMinVersion"] = InEffect,
        ["rotateCertificates"] = InEffect,
        ["serverTLSBootstrap"] = InEffect,
        ["authentication.x509.clientCAFile"] = InEffect,
        ["authentication.webhook.enabled"] = InEffect,
        ["authentication.webhook.cacheTTL"] = InEffect,
        ["authentication.anonymous.enabled"] = InEffect,
        ["authorization.mode"] = InEffect,
        ["authorization.webhook.cacheAuthorizedTTL"] = InEffect,
        ["authorization.webhook.cacheUnauthorizedTTL"] = InEffect,
        ["registryPullQPS"] = InEffect,
        ["registryBurst"] = InEffect,
        ["imagePullCredentialsVerificationPolicy"] = "the agent does not verify pull credentials of present images yet",
        ["preloadedImagesVerificationAllowlist"] = "the agent does not verify pull credentials of present images yet",
        ["eventRecordQPS"] = NoRateLimits,
        ["eventBurst"] = NoRateLimits,
        ["enableDebuggingHandlers"] = InEffect,
        ["enableContentionProfiling"] = NoServer,
        ["healthzPort"] = InEffect,
        ["healthzBindAddress"] = InEffect,
        ["oomScoreAdj"] = "the agent does not set its own OOM score (the service unit decides)",
        ["clusterDomain"] = InEffect,
        ["clusterDNS"] = InEffect,
        ["streamingConnectionIdleTimeout"] = InEffect, // log follow streams and exec/attach/portForward streams
        ["nodeStatusUpdateFrequency"] = InEffect,
        ["nodeStatusReportFrequency"] = InEffect,
        ["nodeLeaseDurationSeconds"] = InEffect,
        ["imageMinimumGCAge"] = InEffect,
        ["imageMaximumGCAge"] = InEffect,
        ["imageGCHighThresholdPercent"] = InEffect,
        ["imageGCLowThresholdPercent"] = InEffect,
        ["volumeStatsAggPeriod"] = "emptyDir usage is measured at each full /stats/summary (and Get-KubeletStats), not cached every period",
        ["kubeletCgroups"] = NoCgroups,
        ["systemCgroups"] = NoCgroups,
        ["cgroupRoot"] = InEffect,
        ["cgroupsPerQOS"] = InEffect,
        ["cgroupDriver"] = InEffect,
        ["cpuManagerPolicy"] = NoResourceManagers,
        ["singleProcessOOMKill"] = NoCgroups,
        ["cpuManagerPolicyOptions"] = NoResourceManagers,
        ["cpuManagerReconcilePeriod"] = NoResourceManagers,
        ["draManagerReconcilePeriod"] = "no dynamic resource allocation yet",
        ["memoryManagerPolicy"] = NoResourceManagers,
        ["topologyManagerPolicy"] = NoResourceManagers,
        ["topologyManagerScope"] = NoResourceManagers,
        ["topologyManagerPolicyOptions"] = NoResourceManagers,
        ["qosReserved"] = "the QoS cgroups get no memory limits (qosReserved): burstable and besteffort memory stays bounded by kubepods only",
        ["runtimeRequestTimeout"] = InEffect,
        ["hairpinMode"] = "the runtime's CNI configuration decides hairpin mode",
        ["maxPods"] = InEffect,
        ["podCIDR"] = "the agent neither reports it nor passes it to the runtime",
        ["podPidsLimit"] = InEffect,
        ["resolvConf"] = InEffect,
        ["runOnce"] = "use Start-KubeletPodSync -Once",
        ["cpuCFSQuota"] = "CPU limits are always enforced with a CFS quota",
        ["cpuCFSQuotaPeriod"] = "the CFS quota period is always 100ms",
        ["nodeStatusMaxImages"] = "the node status always lists at most 50 images",
        ["maxOpenFiles"] = "the agent does not set its own open-file limit (the service unit decides)",
        ["contentType"] = "the API client always uses JSON",
        ["kubeAPIQPS"] = NoRateLimits,
        ["kubeAPIBurst"] = NoRateLimits,
        ["serializeImagePulls"] = InEffect,
        ["maxParallelImagePulls"] = InEffect,
        ["evictionHard"] = InEffect,
        ["evictionSoft"] = InEffect,
        ["evictionSoftGracePeriod"] = InEffect,
        ["evictionPressureTransitionPeriod"] = InEffect,
        ["evictionMaxPodGracePeriod"] = InEffect,
        ["evictionMinimumReclaim"] = InEffect,
        ["mergeDefaultEvictionSettings"] = InEffect,
        ["localStorageCapacityIsolation"] = InEffect,
        ["podsPerCore"] = "the pod capacity is maxPods alone",
        ["enableControllerAttachDetach"] = "the agent attaches no volumes",
        ["protectKernelDefaults"] = "the agent does not check kernel settings",
        ["makeIPTablesUtilChains"] = NoIptables,
        ["iptablesMasqueradeBit"] = NoIptables,
        ["iptablesDropBit"] = NoIptables,
        ["featureGates"] = "the agent checks no feature gates",
        ["failSwapOn"] = "the agent does not check for swap at start (Test-KubeletNode's Preflight does)",
        ["memorySwap.swapBehavior"] = "the agent does not configure container swap",
        ["containerLogMaxSize"] = InEffect, // Pods/Logs/ContainerLogManager
        ["containerLogMaxFiles"] = InEffect, // Pods/Logs/ContainerLogManager
        ["containerLogMaxWorkers"] = InEffect, // Pods/Logs/ContainerLogManager
        ["containerLogMonitorInterval"] = InEffect, // Pods/Logs/ContainerLogManager
        ["configMapAndSecretChangeDetectionStrategy"] = "configMaps and secrets are always read through a TTL cache (Cache)",
        ["systemReserved"] = InEffect,
        ["kubeReserved"] = InEffect,
        ["reservedSystemCPUs"] = NoResourceManagers,
        ["showHiddenMetricsForVersion"] = NoServer,
        ["systemReservedCgroup"] = InEffect,
        ["kubeReservedCgroup"] = InEffect,
        ["enforceNodeAllocatable"] = InEffect,
        ["allowedUnsafeSysctls"] = InEffect,
        ["volumePluginDir"] = "the agent has no FlexVolume plugins",
        ["providerID"] = InEffect,
        ["kernelMemcgNotification"] = "the eviction manager measures memory every 10 s; it has no memory threshold notifier",
        // Both act on the journal entries the agent writes when systemd runs it (Systemd/JournalKubeletLog).
        ["logging.format"] = InEffect,
        ["logging.flushFrequency"] = OwnLogging,
        ["logging.verbosity"] = InEffect,
        ["logging.vmodule"] = OwnLogging,
        ["logging.options.text.splitStream"] = OwnLogging,
        ["logging.options.text.infoBufferSize"] = OwnLogging,
        ["logging.options.json.splitStream"] = OwnLogging,
        ["logging.options.json.infoBufferSize"] = OwnLogging,
        ["enableSystemLogHandler"] = NoServer,
        ["enableSystemLogQuery"] = NoServer,
        ["shutdownGracePeriod"] = NoShutdownManager,
        ["shutdownGracePeriodCriticalPods"] = NoShutdownManager,
        ["shutdownGracePeriodByPodPriority"] = NoShutdownManager,
        ["crashLoopBackOff.maxContainerRestartPeriod"] = "the crash loop back-off is capped at 5m",
        ["reservedMemory"] = NoResourceManagers,
        ["enableProfilingHandler"] = NoServer,
        ["enableDebugFlagsHandler"] = NoServer,
        ["seccompDefault"] = InEffect,
        ["memoryThrottlingFactor"] = "no memory QoS yet",
        ["memoryReservationPolicy"] = NoResourceManagers,
        ["registerWithTaints"] = InEffect,
        ["registerNode"] = "the agent always registers its node",
        ["tracing.endpoint"] = "the agent exports no traces",
        ["tracing.samplingRatePerMillion"] = "the agent exports no traces",
        ["containerRuntimeEndpoint"] = InEffect,
        ["imageServiceEndpoint"] = "images go through containerRuntimeEndpoint",
        ["failCgroupV1"] = "the agent does not check the cgroup version",
        ["userNamespaces.idsPerPod"] = "the agent runs no pods in user namespaces",
        ["podHousekeepingPeriod"] = "housekeeping runs after every relist of the runtime (1s)",
    };

    /// <summary>Whether the agent acts on the field at <paramref name="path"/> (a leaf path such as "authentication.webhook.enabled").</summary>
    public static bool IsInEffect(string path) => Reason(path) is null;

    /// <summary>Why the field at <paramref name="path"/> is not in effect; null when it is.</summary>
    public static string? Reason(string path) =>
        Fields.TryGetValue(path, out var reason) ? reason
            : throw new ArgumentException($"'{path}' is not a KubeletConfiguration field the support table knows.", nameof(path));

    /// <summary>The fields the table decides, by path.</summary>
    internal static IReadOnlyCollection<string> DecidedFields => Fields.Keys;

    /// <summary>
    /// Every field of <paramref name="model"/> that a file sets on its own: a [ConfigField]
    /// property, except one whose value is itself an object of fields (its fields are the leaves).
    /// Lists and maps are leaves: their items are the field's value.
    /// </summary>
    internal static IEnumerable<(string Path, PropertyInfo Property, ConfigFieldAttribute Field)> LeafFields(Type model, string prefix = "")
    {
        foreach (var (name, (property, field)) in YamlObjectReader.FieldsOf(model))
        {
            var path = prefix.Length == 0 ? name : $"{prefix}.{name}";
            if (IsFieldObject(property.PropertyType))
            {
                foreach (var leaf in LeafFields(property.PropertyType, path)) yield return leaf;
            }
            else
            {
                yield return (path, property, field);
            }
        }
    }

    /// <summary>A class whose properties are fields (authentication, logging), not a list, map or scalar.</summary>
    internal static bool IsFieldObject(Type type) =>
        type.IsClass && type != typeof(string) && !type.IsGenericType && !type.IsArray && YamlObjectReader.FieldsOf(type).Count > 0;
}
