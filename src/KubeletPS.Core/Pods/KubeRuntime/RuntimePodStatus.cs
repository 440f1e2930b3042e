using System.Globalization;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.KubeRuntime;

/// <summary>One container instance of a pod as the runtime reports it, with kubelet's annotations read.</summary>
public sealed record RuntimeContainerStatus(ContainerStatusInfo Status, string PodSandboxId)
{
    public string Id => Status.Id;
    public string Name => Status.Labels.GetValueOrDefault(KubeletLabels.ContainerName, Status.Name);
    public ContainerState State => Status.State;
    public string Hash => Status.Annotations.GetValueOrDefault(KubeletLabels.ContainerHash, "");
    public bool IsInit => Status.Annotations.GetValueOrDefault(KubeletLabels.ContainerType) == "init";

    public int RestartCount => int.TryParse(Status.Annotations.GetValueOrDefault(KubeletLabels.ContainerRestartCount), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;

    /// <summary>How long the instance ran (zero when it never started or still runs).</summary>
    public TimeSpan RanFor => Status is { StartedAt: { } s, FinishedAt: { } f } && f > s ? f - s : TimeSpan.Zero;
}

/// <summary>
/// Everything the runtime knows about one pod (kubecontainer.PodStatus): its sandboxes newest first,
/// and every container instance newest first.
/// </summary>
public sealed record RuntimePodStatus(string Uid, string Name, string Namespace, IReadOnlyList<SandboxStatusInfo> Sandboxes, IReadOnlyList<RuntimeContainerStatus> Containers)
{
    public static RuntimePodStatus Empty(string uid) => new(uid, "", "", [], []);

    public SandboxStatusInfo? LatestSandbox => Sandboxes.Count > 0 ? Sandboxes[0] : null;

    /// <summary>The newest instance of a container, in any sandbox.</summary>
    public RuntimeContainerStatus? Latest(string name) => Containers.FirstOrDefault(c => c.Name == name);

    /// <summary>The instance before the newest (the source of lastState).</summary>
    public RuntimeContainerStatus? Previous(string name) => Containers.Where(c => c.Name == name).Skip(1).FirstOrDefault();

    public bool AnyRunning => Containers.Any(c => c.State == ContainerState.Running) || Sandboxes.Any(s => s.State == PodSandboxState.Ready);
}
