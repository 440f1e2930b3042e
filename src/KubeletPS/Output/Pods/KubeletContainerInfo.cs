using KubeletPS.Core.Pods.KubeRuntime;

namespace KubeletPS.Output;

/// <summary>
/// One container of a pod (its latest attempt), from Get-KubeletPod's Containers. Piped to
/// Get-KubeletContainerLog it names the log to read.
/// </summary>
public sealed class KubeletContainerInfo
{
    internal KubeletContainerInfo(RuntimePod pod, RuntimePodContainer container)
    {
        PodName = pod.Name;
        Namespace = pod.Namespace;
        PodUid = pod.Uid;
        Name = container.Name;
        State = container.State.ToString();
        Reason = container.Reason;
        Message = container.Message;
        ExitCode = container.ExitCode;
        Ready = container.Ready;
        RestartCount = container.RestartCount;
        Attempt = container.Attempt;
        StartedAt = container.StartedAt;
        FinishedAt = container.FinishedAt;
        Image = container.Image;
        ImageRef = container.ImageRef;
        ContainerId = container.ContainerId;
        LogPath = container.LogPath;
        IsInit = container.IsInit;
    }

    public string PodName { get; }
    public string Namespace { get; }
    public string PodUid { get; }
    public string Name { get; }

    /// <summary>Waiting, Running, Exited or Unknown.</summary>
    public string State { get; }

    /// <summary>Why it waits or exited: ContainerCreating, CrashLoopBackOff, Completed, Error, OOMKilled…</summary>
    public string? Reason { get; }

    public string? Message { get; }

    /// <summary>The exit code once exited; empty otherwise.</summary>
    public int? ExitCode { get; }

    public bool Ready { get; }
    public int RestartCount { get; }

    /// <summary>The runtime's attempt number of this container (the log file is LogPath's NAME/ATTEMPT.log).</summary>
    public uint Attempt { get; }

    public DateTimeOffset? StartedAt { get; }
    public DateTimeOffset? FinishedAt { get; }
    public string Image { get; }

    /// <summary>The image id (digest) the runtime resolved the image to.</summary>
    public string ImageRef { get; }

    public string ContainerId { get; }
    public string LogPath { get; }
    public bool IsInit { get; }

    public override string ToString() => $"{Namespace}/{PodName}/{Name}";
}
