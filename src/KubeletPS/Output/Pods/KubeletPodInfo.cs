using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.KubeRuntime;

namespace KubeletPS.Output;

/// <summary>
/// A pod on this node as Get-KubeletPod returns it: what the container runtime runs, joined
/// with the phase and readiness the agent last wrote. READY and RESTARTS count app containers
/// (not init containers), as kubectl get pods does.
/// </summary>
public sealed class KubeletPodInfo
{
    internal KubeletPodInfo(RuntimePod pod, DateTimeOffset now)
    {
        Name = pod.Name;
        Namespace = pod.Namespace;
        Uid = pod.Uid;
        Phase = pod.Phase;
        Status = pod.Status;
        Containers = pod.Containers.Select(c => new KubeletContainerInfo(pod, c)).ToArray();
        var app = pod.AppContainers.ToList();
        ReadyContainers = app.Count(c => c.Ready);
        TotalContainers = app.Count;
        Ready = $"{ReadyContainers}/{TotalContainers}";
        Restarts = app.Sum(c => c.RestartCount);
        CreatedAt = pod.CreatedAt;
        Age = pod.CreatedAt is { } created ? now - created : TimeSpan.Zero;
        IP = pod.PodIP;
        SandboxId = pod.SandboxId;
        SandboxState = pod.SandboxState?.ToString();
        HasAgentStatus = pod.HasAgentStatus;
        Conditions = pod.Conditions.Select(c => new KubeletPodCondition(c)).ToArray();
        QosClass = pod.QosClass;
    }

    public string Name { get; }
    public string Namespace { get; }
    public string Uid { get; }

    /// <summary>Pending, Running, Succeeded, Failed or Unknown.</summary>
    public string Phase { get; }

    /// <summary>kubectl's STATUS column: the phase, or a reason that says more (CrashLoopBackOff, Completed, Error, Init:0/1…).</summary>
    public string Status { get; }

    /// <summary>Ready app containers out of all app containers, e.g. "1/2".</summary>
    public string Ready { get; }

    public int ReadyContainers { get; }
    public int TotalContainers { get; }

    /// <summary>The app containers' restarts added up.</summary>
    public int Restarts { get; }

    /// <summary>Since the pod's first sandbox was created, when this object was made.</summary>
    public TimeSpan Age { get; }

    public DateTimeOffset? CreatedAt { get; }
    public string? IP { get; }

    /// <summary>The latest sandbox's id (crictl pods shows the same).</summary>
    public string? SandboxId { get; }

    /// <summary>Ready or NotReady; empty when the sandbox is gone.</summary>
    public string? SandboxState { get; }

    /// <summary>Guaranteed, Burstable or BestEffort (status.qosClass, as kubelet sets it); null when the agent's status file is missing.</summary>
    public string? QosClass { get; }

    /// <summary>True when phase, readiness and conditions come from the agent's status file; false when derived from the runtime alone.</summary>
    public bool HasAgentStatus { get; }

    public KubeletContainerInfo[] Containers { get; }
    public KubeletPodCondition[] Conditions { get; }

    /// <summary>An age as kubectl prints it: 45s, 3m20s, 5h10m, 2d3h.</summary>
    public static string FormatAge(TimeSpan age) => HumanDuration.Format(age);

    public override string ToString() => $"{Namespace}/{Name}";
}

/// <summary>A pod condition the agent reported (Ready, ContainersReady, Initialized, PodScheduled…).</summary>
public sealed class KubeletPodCondition
{
    internal KubeletPodCondition(RuntimePodCondition condition)
    {
        Type = condition.Type;
        Status = condition.Status;
        Reason = condition.Reason;
        Message = condition.Message;
        LastTransitionTime = condition.LastTransitionTime;
    }

    public string Type { get; }
    public string Status { get; }
    public string? Reason { get; }
    public string? Message { get; }
    public DateTimeOffset? LastTransitionTime { get; }

    public override string ToString() => $"{Type}={Status}";
}
