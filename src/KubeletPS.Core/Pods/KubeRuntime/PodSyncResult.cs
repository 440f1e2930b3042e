namespace KubeletPS.Core.Pods.KubeRuntime;

/// <summary>Why a container is waiting after a sync (kubelet's waiting reasons such as CrashLoopBackOff).</summary>
public sealed record ContainerWaiting(string Reason, string Message);

/// <summary>What one SyncPod did not manage, for the status, and when the pod wants to be synced again.</summary>
public sealed class PodSyncResult
{
    public Dictionary<string, ContainerWaiting> Waiting { get; } = new(StringComparer.Ordinal);

    /// <summary>True when the sync changed something in the runtime (the pod's runtime status must be read again).</summary>
    public bool Changed { get; set; }

    /// <summary>When a back-off ends, so the pod worker wakes then rather than at the next resync.</summary>
    public TimeSpan? RetryAfter { get; set; }

    public void Retry(TimeSpan after)
    {
        if (after < TimeSpan.Zero) after = TimeSpan.Zero;
        RetryAfter = RetryAfter is { } current && current < after ? current : after;
    }
}
