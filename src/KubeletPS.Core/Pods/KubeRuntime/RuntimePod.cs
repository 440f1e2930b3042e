using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.KubeRuntime;

/// <summary>A container's state in Kubernetes' words (ContainerStatus.state): the CRI Created state is Waiting.</summary>
public enum PodContainerState
{
    Waiting,
    Running,
    Exited,
    Unknown,
}

/// <summary>A pod condition as the agent last reported it (PodReady, ContainersReady, Initialized…).</summary>
public sealed record RuntimePodCondition(string Type, string Status, string? Reason, string? Message, DateTimeOffset? LastTransitionTime);

/// <summary>
/// One container of a pod as the runtime has it: the latest attempt of that container name.
/// <see cref="Ready"/> comes from the agent's status file when there is one (it knows the
/// readiness probes); without one a running container counts as ready.
/// </summary>
public sealed record RuntimePodContainer(
    string Name,
    string ContainerId,
    uint Attempt,
    PodContainerState State,
    string? Reason,
    string? Message,
    int? ExitCode,
    DateTimeOffset? CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    int RestartCount,
    bool Ready,
    string Image,
    string ImageRef,
    string LogPath,
    bool IsInit);

/// <summary>
/// A pod on this node as the runtime shows it: its latest sandbox and the latest attempt of
/// each container, joined by kubelet's io.kubernetes.pod.uid label, with the phase and
/// conditions the agent last wrote (<see cref="HasAgentStatus"/>) or, without that, derived
/// from the containers' states (see <see cref="Inventory.RuntimePodInventory"/>). The QoS class is the one the
/// agent reported (status.qosClass), or computed from the spec in its status file; null from the runtime alone.
/// </summary>
public sealed record RuntimePod(
    string Name,
    string Namespace,
    string Uid,
    string Phase,
    string Status,
    string? PodIP,
    string? SandboxId,
    PodSandboxState? SandboxState,
    uint SandboxAttempt,
    DateTimeOffset? CreatedAt,
    bool HasAgentStatus,
    IReadOnlyList<RuntimePodContainer> Containers,
    IReadOnlyList<RuntimePodCondition> Conditions,
    string? QosClass = null)
{
    /// <summary>The app containers (not init containers), the ones READY and RESTARTS count.</summary>
    public IEnumerable<RuntimePodContainer> AppContainers => Containers.Where(c => !c.IsInit);
}

/// <summary>Which container's log to read: a pod by name (any namespace when null), a container by name (the only one when null).</summary>
public sealed record ContainerLogQuery(string PodName, string? Namespace = null, string? ContainerName = null, bool Previous = false);

/// <summary>The log file a <see cref="ContainerLogQuery"/> resolved to, and whose it is.</summary>
public sealed record ContainerLogSource(
    string PodName,
    string Namespace,
    string PodUid,
    string ContainerName,
    string ContainerId,
    uint Attempt,
    PodContainerState State,
    string LogPath);

/// <summary>Why a container log could not be found; the message says it as kubectl would, with the choices.</summary>
public enum ContainerLogLookupProblem
{
    PodNotFound,
    PodAmbiguous,
    ContainerNameRequired,
    ContainerNotFound,
    PreviousNotFound,
}

public sealed class ContainerLogLookupException(ContainerLogLookupProblem problem, string message, string target, IReadOnlyList<string>? choices = null)
    : KubeletException(message, problem is ContainerLogLookupProblem.PodAmbiguous or ContainerLogLookupProblem.ContainerNameRequired
        ? KubeletErrorKind.InvalidArgument : KubeletErrorKind.NotFound, target)
{
    public ContainerLogLookupProblem Problem { get; } = problem;

    /// <summary>The names to choose from (containers, or namespaces of same-named pods).</summary>
    public IReadOnlyList<string> Choices { get; } = choices ?? [];
}
