namespace KubeletPS.Core.Pods.KubeRuntime;

/// <summary>
/// The labels and annotations kubelet puts on CRI sandboxes and containers
/// (pkg/kubelet/types/labels.go, kuberuntime/labels.go). The agent finds and adopts what it
/// started — after its own restart too — by these, and tools such as crictl show them.
/// </summary>
public static class KubeletLabels
{
    // Sandboxes and containers
    public const string PodName = "io.kubernetes.pod.name";
    public const string PodNamespace = "io.kubernetes.pod.namespace";
    public const string PodUid = "io.kubernetes.pod.uid";
    public const string ContainerName = "io.kubernetes.container.name";

    // Container annotations
    public const string ContainerHash = "io.kubernetes.container.hash";
    public const string ContainerRestartCount = "io.kubernetes.container.restartCount";
    public const string ContainerTerminationMessagePath = "io.kubernetes.container.terminationMessagePath";
    public const string ContainerTerminationMessagePolicy = "io.kubernetes.container.terminationMessagePolicy";
    public const string ContainerPreStopHandler = "io.kubernetes.container.preStopHandler";
    public const string ContainerPorts = "io.kubernetes.container.ports";
    public const string PodTerminationGracePeriod = "io.kubernetes.pod.terminationGracePeriod";
    public const string ContainerType = "io.kubernetes.container.type"; // "init" for init containers (this agent)

    // Sandbox annotations
    public const string ConfigSource = "kubernetes.io/config.source";
    public const string ConfigSeen = "kubernetes.io/config.seen";
}
