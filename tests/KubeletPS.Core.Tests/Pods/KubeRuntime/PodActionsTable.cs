using k8s.Models;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Probes;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Tests.Pods.KubeRuntime;

/// <summary>
/// What the table tests of <see cref="PodActionDecisions.ComputePodActions"/> are written with (kubelet's
/// kuberuntime_manager_test.go makeBasePodAndStatus): a pod, its runtime status built up sandbox by
/// sandbox and container by container, probe results, and the actions summed up in one line.
/// </summary>
internal static class PodActionsTable
{
    public static readonly DateTimeOffset T0 = DateTimeOffset.Parse("2026-01-01T00:00:00Z");
    private static readonly Dictionary<string, string> None = [];

    public static V1Pod Pod(string restartPolicy = "Always", bool hostNetwork = false, IEnumerable<V1Container>? inits = null, params string[] containers) => new()
    {
        Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "default", Uid = "uid-1" },
        Spec = new V1PodSpec
        {
            RestartPolicy = restartPolicy,
            HostNetwork = hostNetwork ? true : null,
            InitContainers = inits?.ToList(),
            Containers = (containers.Length == 0 ? ["app"] : containers).Select(n => Container(n)).ToList(),
        },
    };

    public static V1Container Container(string name, string image = "busybox:1.36", string? restartPolicy = null, bool startupProbe = false) => new()
    {
        Name = name,
        Image = image,
        Command = ["sleep", "3600"],
        RestartPolicy = restartPolicy,
        StartupProbe = startupProbe ? new V1Probe { Exec = new V1ExecAction { Command = ["true"] } } : null,
    };

    public static V1Container Sidecar(string name, bool startupProbe = false) => Container(name, restartPolicy: "Always", startupProbe: startupProbe);

    /// <summary>A runtime status being built, sandboxes and containers newest first as GetPodStatus returns them.</summary>
    public sealed class StatusBuilder(V1Pod pod)
    {
        private readonly List<SandboxStatusInfo> _sandboxes = [];
        private readonly List<RuntimeContainerStatus> _containers = [];

        /// <summary>A sandbox newer than the ones before; Ready with an IP by default.</summary>
        public StatusBuilder Sandbox(string id, uint attempt = 0, PodSandboxState state = PodSandboxState.Ready, string? ip = "10.88.0.2", bool? hostNetwork = null)
        {
            _sandboxes.Insert(0, new SandboxStatusInfo(id, "web", "default", "uid-1", attempt, state, T0.AddMinutes(_sandboxes.Count), ip, [],
                hostNetwork ?? pod.Spec.HostNetwork == true, None, None, ""));
            return this;
        }

        /// <summary>A container instance newer than the ones before, in <paramref name="sandbox"/>; its hash is the pod's spec unless given.</summary>
        public StatusBuilder Container(string name, string sandbox, ContainerState state, int exitCode = 0, int restartCount = 0, string? hash = null, TimeSpan? finishedAgo = null, DateTimeOffset? now = null)
        {
            var spec = (pod.Spec.InitContainers ?? []).Concat(pod.Spec.Containers).FirstOrDefault(c => c.Name == name);
            var created = T0.AddMinutes(10 + _containers.Count);
            var finished = state == ContainerState.Exited ? (now ?? T0.AddHours(1)) - (finishedAgo ?? TimeSpan.FromMinutes(30)) : (DateTimeOffset?)null;
            var annotations = new Dictionary<string, string>
            {
                [KubeletLabels.ContainerHash] = hash ?? (spec is null ? "" : PodRuntimeSpecs.Hash(spec)),
                [KubeletLabels.ContainerRestartCount] = restartCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            var labels = new Dictionary<string, string> { [KubeletLabels.ContainerName] = name, [KubeletLabels.PodUid] = "uid-1" };
            var id = $"{name}-{_containers.Count(c => c.Name == name)}";
            _containers.Insert(0, new RuntimeContainerStatus(new ContainerStatusInfo(id, name, (uint)restartCount, state, created,
                state == ContainerState.Created ? null : created, finished, exitCode, "", "", "busybox", "sha256:1", "", labels, annotations), sandbox));
            return this;
        }

        public RuntimePodStatus Build() => new("uid-1", "web", "default", [.. _sandboxes], [.. _containers]);
    }

    /// <summary>Probe results as a test sets them: containers started (startup probe passed) and failures.</summary>
    public sealed class ProbeResults : IProbeResults
    {
        public HashSet<string> Started { get; } = [];
        public Dictionary<string, ProbeType> Failed { get; } = [];

        public bool IsStarted(V1Container container, string containerId) => container.StartupProbe is null || Started.Contains(containerId);

        public (ProbeType Type, ProbeOutcome Outcome)? RestartReason(string containerId)
            => Failed.TryGetValue(containerId, out var type) ? (type, new ProbeOutcome(ProbeResult.Failure, "exit code 1")) : null;
    }

    /// <summary>The actions in one line: "killPod createSandbox(1) next=init kill=[app: message] start=[app#1] backOff=[app]".</summary>
    public static string Summary(PodActions a)
    {
        var parts = new List<string>();
        if (a.KillPod) parts.Add("killPod");
        if (a.CreateSandbox) parts.Add($"createSandbox({a.Attempt})");
        if (a.NextInitContainer is { } next) parts.Add($"next={next.Container.Name}#{next.RestartCount}");
        if (a.ContainersToKill.Count > 0) parts.Add($"kill=[{string.Join(", ", a.ContainersToKill.Select(k => $"{k.Status.Id}: {k.Message}"))}]");
        if (a.ContainersToStart.Count > 0) parts.Add($"start=[{string.Join(", ", a.ContainersToStart.Select(s => $"{s.Container.Name}#{s.RestartCount}"))}]");
        if (a.ContainersInBackOff.Count > 0) parts.Add($"backOff=[{string.Join(", ", a.ContainersInBackOff.Select(b => $"{b.Container.Name} {b.Remaining.TotalSeconds:0}s"))}]");
        return parts.Count == 0 ? "nothing" : string.Join(" ", parts);
    }
}
