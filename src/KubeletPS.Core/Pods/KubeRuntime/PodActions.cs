using k8s.Models;

namespace KubeletPS.Core.Pods.KubeRuntime;

/// <summary>A running container to stop (kubelet's containerToKillInfo): <see cref="Message"/> is the Killing event's message.</summary>
/// <param name="Status">The instance to stop.</param>
/// <param name="Container">Its spec.</param>
/// <param name="Message">Why, as kubelet says it ("Container app definition changed, will be restarted").</param>
/// <param name="Detail">What the probe saw, for the node's log; null when the spec changed.</param>
public sealed record ContainerToKill(RuntimeContainerStatus Status, V1Container Container, string Message, string? Detail);

/// <summary>A container to create and start.</summary>
/// <param name="Container">Its spec.</param>
/// <param name="IsInit">An init container (or sidecar).</param>
/// <param name="Latest">
/// The newest instance before this one (its restart count is carried on; an exited one is a restart
/// under crash-loop back-off); null on the first start. After a kill for a changed spec or a failed
/// probe it is the killed instance marked Running, so the new one starts without back-off.
/// </param>
public sealed record ContainerToStart(V1Container Container, bool IsInit, RuntimeContainerStatus? Latest)
{
    /// <summary>The new instance's restart count.</summary>
    public int RestartCount => Latest is null ? 0 : Latest.RestartCount + 1;
}

/// <summary>A container that would be restarted but is still in its crash-loop back-off.</summary>
/// <param name="Container">Its spec.</param>
/// <param name="Delay">The whole back-off.</param>
/// <param name="Remaining">What is left of it: the pod is synced again then.</param>
public sealed record ContainerBackingOff(V1Container Container, TimeSpan Delay, TimeSpan Remaining);

/// <summary>
/// What one sync of a pod must do (kubelet's podActions), decided by
/// <see cref="PodActionDecisions.ComputePodActions"/> from the pod and its runtime status alone and
/// carried out by <see cref="KubeGenericRuntimeManager.SyncPodAsync"/>: kill the pod, create its
/// sandbox, then either the next init container or the containers to kill and start.
/// </summary>
public sealed record PodActions
{
    /// <summary>Stop every container and the sandboxes (before a new sandbox, or for good when <see cref="CreateSandbox"/> is false).</summary>
    public bool KillPod { get; init; }

    /// <summary>Why the pod is killed, for the node's log; null when it says nothing (the pod is simply done).</summary>
    public string? KillPodMessage { get; init; }

    /// <summary>Run a new sandbox (none yet, or the latest is not ready or has no IP outside the host network).</summary>
    public bool CreateSandbox { get; init; }

    /// <summary>The latest sandbox: the one the containers go into, or the one replaced when <see cref="CreateSandbox"/>.</summary>
    public string? SandboxId { get; init; }

    /// <summary>The sandbox attempt the containers are created for (the new sandbox's when <see cref="CreateSandbox"/>).</summary>
    public uint Attempt { get; init; }

    /// <summary>The init container or sidecar to start next; while initializing, the app containers wait.</summary>
    public ContainerToStart? NextInitContainer { get; init; }

    /// <summary>Running containers to stop, in spec order (their replacements are in <see cref="ContainersToStart"/>).</summary>
    public IReadOnlyList<ContainerToKill> ContainersToKill { get; init; } = [];

    /// <summary>App containers, and sidecars once the pod is initialized, to create and start (in parallel).</summary>
    public IReadOnlyList<ContainerToStart> ContainersToStart { get; init; } = [];

    /// <summary>Containers not started now because of their crash-loop back-off.</summary>
    public IReadOnlyList<ContainerBackingOff> ContainersInBackOff { get; init; } = [];

    /// <summary>The app containers' turn was reached: after the starts, dead instances beyond the newest two and old sandboxes are removed.</summary>
    public bool PruneDeadInstances { get; init; }
}
