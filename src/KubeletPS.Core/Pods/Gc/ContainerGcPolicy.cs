namespace KubeletPS.Core.Pods.Gc;

/// <summary>
/// Kubelet's kubecontainer.GCPolicy. Its values come from kubelet's deprecated command-line flags
/// (--minimum-container-ttl-duration, --maximum-dead-containers-per-container,
/// --maximum-dead-containers), not from KubeletConfiguration: the defaults here are kubelet's.
/// </summary>
public sealed record ContainerGcPolicy
{
    /// <summary>Minimum age at which a dead container can be collected (kubelet: 0).</summary>
    public TimeSpan MinAge { get; init; }

    /// <summary>Dead containers kept per (pod, container name); below zero keeps all (kubelet: 1).</summary>
    public int MaxPerPodContainer { get; init; } = 1;

    /// <summary>Dead containers kept on the node in total; below zero has no limit (kubelet: -1).</summary>
    public int MaxContainers { get; init; } = -1;
}

/// <summary>
/// What the container collector asks of the pod workers (kubelet's podStateProvider in
/// kuberuntime_gc.go, answered by pod_workers.go).
/// </summary>
public interface IPodStateProvider
{
    /// <summary>
    /// Every pod source has reported since start (kubelet's allSourcesReady): before that a pod not
    /// yet seen may still be desired, so nothing of an unknown pod is removed.
    /// </summary>
    bool AllSourcesReady { get; }

    /// <summary>The pod is gone (no source wants it and no worker has it) or was evicted: its containers, sandboxes and directories can go.</summary>
    bool ShouldPodContentBeRemoved(string podUid);

    /// <summary>The pod's containers no longer run (it finished or is gone): the eviction manager may take its dead containers too.</summary>
    bool ShouldPodRuntimeBeRemoved(string podUid);
}
