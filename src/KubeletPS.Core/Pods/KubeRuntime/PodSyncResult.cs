using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.KubeRuntime;

/// <summary>Why a container is waiting after a sync (kubelet's waiting reasons such as CrashLoopBackOff).</summary>
public sealed record ContainerWaiting(string Reason, string Message);

/// <summary>What one SyncPod did not manage, for the status, and when the pod wants to be synced again.</summary>
public sealed class PodSyncResult
{
    private readonly List<(string Id, string SandboxId)> _createdContainers = [];

    public Dictionary<string, ContainerWaiting> Waiting { get; } = new(StringComparer.Ordinal);

    /// <summary>True when the sync changed something in the runtime (the pod's runtime status must be read again).</summary>
    public bool Changed { get; set; }

    /// <summary>
    /// True when the sync stopped something (the pod, a container, a container whose postStart hook
    /// failed): the whole pod is read again. Otherwise only what the sync created is read
    /// (<see cref="CreatedSandbox"/>, <see cref="CreatedContainers"/>).
    /// </summary>
    public bool Stopped { get; set; }

    /// <summary>The sandbox this sync created, as its PodSandboxStatus answered right after RunPodSandbox.</summary>
    public SandboxStatusInfo? CreatedSandbox { get; set; }

    /// <summary>The containers this sync created (started or not) with their sandboxes, in the order they were created.</summary>
    public IReadOnlyList<(string Id, string SandboxId)> CreatedContainers
    {
        get { lock (_createdContainers) return [.. _createdContainers]; }
    }

    /// <summary>Records a created container (several containers of a pod start in parallel).</summary>
    public void Created(string containerId, string sandboxId)
    {
        lock (_createdContainers) _createdContainers.Add((containerId, sandboxId));
    }

    /// <summary>When a back-off ends, so the pod worker wakes then rather than at the next resync.</summary>
    public TimeSpan? RetryAfter { get; set; }

    public void Retry(TimeSpan after)
    {
        if (after < TimeSpan.Zero) after = TimeSpan.Zero;
        RetryAfter = RetryAfter is { } current && current < after ? current : after;
    }
}
