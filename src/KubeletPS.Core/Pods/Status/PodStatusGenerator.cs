using System.Text;
using k8s.Models;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Probes;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.Status;

/// <summary>
/// Computes a pod's API status from the runtime's view as kubelet's generateAPIPodStatus does:
/// container statuses (state, lastState, ready, started, restartCount, image, imageID,
/// containerID), the phase by kubelet's getPhase rules, conditions with their transition times
/// kept, pod and host IPs, start time and QoS class.
/// </summary>
public sealed class PodStatusGenerator(string runtimeName, string? hostIp, TimeProvider? time = null)
{
    private const int MaxTerminationMessage = 4096;
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public string RuntimeName { get; set; } = runtimeName;

    public V1PodStatus Generate(V1Pod pod, RuntimePodStatus runtime, V1PodStatus? previous, IReadOnlyDictionary<string, ContainerWaiting> waiting, ProbeManager? probes)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        now = now.AddTicks(-(now.Ticks % TimeSpan.TicksPerSecond)); // API times have second precision
        var initContainers = pod.Spec.InitContainers ?? [];
        var initStatuses = initContainers.Select(c => ContainerStatus(pod, c, runtime, waiting, probes, isInit: true)).ToList();
        // Kubelet: initialized once every regular init container completed and every sidecar started;
        // and still initialized, while a sidecar restarts, once an app container has started.
        var incomplete = initContainers.Zip(initStatuses)
            .Where(p => PodActionDecisions.IsSidecar(p.First) ? p.Second.Started != true : p.Second.State?.Terminated is not { ExitCode: 0 })
            .Select(p => p.Second.Name).ToList();
        var initialized = incomplete.Count == 0 || (pod.Spec.Containers ?? []).Any(c => runtime.Latest(c.Name) is { State: ContainerState.Running or ContainerState.Exited });
        var statuses = (pod.Spec.Containers ?? []).Select(c => ContainerStatus(pod, c, runtime, waiting, probes, isInit: false, initialized)).ToList();

        var phase = GetPhase(pod, initStatuses, statuses);
        if (previous?.Phase is "Succeeded" or "Failed") phase = previous.Phase; // terminal phases are final

        var sandbox = runtime.Sandboxes.FirstOrDefault(s => s.State == PodSandboxState.Ready) ?? runtime.LatestSandbox;
        var hostNetwork = pod.Spec.HostNetwork == true;
        var podIp = hostNetwork ? hostIp : sandbox?.Ip;
        var podIps = hostNetwork ? (hostIp is null ? [] : new[] { hostIp }) : sandbox is null ? [] : new[] { sandbox.Ip }.Concat(sandbox.AdditionalIps).Where(ip => !string.IsNullOrEmpty(ip)).ToArray();

        var status = new V1PodStatus
        {
            Phase = phase,
            HostIP = hostIp,
            HostIPs = hostIp is null ? null : [new V1HostIP { Ip = hostIp }],
            PodIP = string.IsNullOrEmpty(podIp) ? null : podIp,
            PodIPs = podIps.Length == 0 ? null : podIps.Select(ip => new V1PodIP { Ip = ip }).ToList(),
            StartTime = previous?.StartTime ?? now,
            QosClass = PodRuntimeSpecs.QosClass(pod),
            InitContainerStatuses = initStatuses.Count == 0 ? null : initStatuses,
            ContainerStatuses = statuses,
        };

        var terminal = phase is "Succeeded" or "Failed";
        var conditions = new List<V1PodCondition>
        {
            Condition("PodReadyToStartContainers", !terminal && sandbox is { State: PodSandboxState.Ready } && (hostNetwork || sandbox.Ip is not null), null, null),
            Condition("Initialized", initialized, initialized ? null : "ContainersNotInitialized",
                initialized ? null : $"containers with incomplete status: [{string.Join(' ', incomplete)}]"),
        };
        // Sidecars count for readiness, as app containers do.
        var unready = initContainers.Zip(initStatuses).Where(p => PodActionDecisions.IsSidecar(p.First) && !p.Second.Ready).Select(p => p.Second.Name)
            .Concat(statuses.Where(s => !s.Ready).Select(s => s.Name)).ToList();
        var ready = unready.Count == 0 && !terminal;
        var (reason, message) = terminal ? ("PodCompleted", (string?)null)
            : ready ? ((string?)null, (string?)null)
            : ("ContainersNotReady", $"containers with unready status: [{string.Join(' ', unready)}]");
        conditions.Add(Condition("ContainersReady", ready, reason, message));
        conditions.Add(Condition("Ready", ready, reason, message));
        conditions.Add(Condition("PodScheduled", true, null, null));
        foreach (var condition in conditions)
        {
            var before = previous?.Conditions?.FirstOrDefault(c => c.Type == condition.Type);
            condition.LastTransitionTime = before is not null && before.Status == condition.Status ? before.LastTransitionTime : now;
        }
        status.Conditions = conditions;
        return status;

        static V1PodCondition Condition(string type, bool value, string? reason, string? message) =>
            new() { Status = value ? "True" : "False", Type = type, Reason = reason, Message = message, LastProbeTime = null };
    }

    private V1ContainerStatus ContainerStatus(V1Pod pod, V1Container container, RuntimePodStatus runtime, IReadOnlyDictionary<string, ContainerWaiting> waiting, ProbeManager? probes, bool isInit, bool initialized = true)
    {
        var latest = runtime.Latest(container.Name);
        var previous = runtime.Previous(container.Name);
        var status = new V1ContainerStatus
        {
            Name = container.Name,
            Image = container.Image,
            ImageID = latest?.Status.ImageRef ?? "",
            ContainerID = latest is null ? null : $"{RuntimeName}://{latest.Id}",
            RestartCount = latest?.RestartCount ?? 0,
            Ready = false,
            Started = false,
            State = new V1ContainerState(),
            LastState = new V1ContainerState(),
        };
        waiting.TryGetValue(container.Name, out var wait);
        if (latest is null)
        {
            status.State.Waiting = new V1ContainerStateWaiting { Message = wait?.Message, Reason = wait?.Reason ?? (isInit || initialized ? "ContainerCreating" : "PodInitializing") };
            return status;
        }

        switch (latest.State)
        {
            case ContainerState.Running:
                status.State.Running = new V1ContainerStateRunning { StartedAt = latest.Status.StartedAt?.UtcDateTime };
                status.Started = probes?.IsStarted(container, latest.Id) ?? true;
                status.Ready = (!isInit || PodActionDecisions.IsSidecar(container)) && (probes?.IsReady(container, latest.Id) ?? true);
                if (previous?.State == ContainerState.Exited) status.LastState.Terminated = Terminated(previous);
                break;
            case ContainerState.Exited:
                if (wait is not null && PodActionDecisions.ShouldRestart(pod, container, latest) && (pod.Spec.RestartPolicy != "Never" || PodActionDecisions.IsSidecar(container)))
                {
                    status.State.Waiting = new V1ContainerStateWaiting { Message = wait.Message, Reason = wait.Reason };
                    status.LastState.Terminated = Terminated(latest);
                }
                else
                {
                    status.State.Terminated = Terminated(latest);
                    if (previous?.State == ContainerState.Exited) status.LastState.Terminated = Terminated(previous);
                }
                break;
            default:
                status.State.Waiting = new V1ContainerStateWaiting { Message = wait?.Message, Reason = wait?.Reason ?? "ContainerCreating" };
                if (previous?.State == ContainerState.Exited) status.LastState.Terminated = Terminated(previous);
                break;
        }
        if (status.LastState.Terminated is null) status.LastState = new V1ContainerState();
        return status;
    }

    private V1ContainerStateTerminated Terminated(RuntimeContainerStatus c)
    {
        var s = c.Status;
        var reason = string.IsNullOrEmpty(s.Reason) ? (s.ExitCode == 0 ? "Completed" : "Error") : s.Reason;
        return new V1ContainerStateTerminated { ExitCode = s.ExitCode, ContainerID = $"{RuntimeName}://{c.Id}", FinishedAt = s.FinishedAt?.UtcDateTime, Message = TerminationMessage(c), Reason = reason, StartedAt = s.StartedAt?.UtcDateTime };
    }

    private static string? TerminationMessage(RuntimeContainerStatus c)
    {
        if (!c.Status.Annotations.TryGetValue(PodRuntimeSpecs.TerminationMessageHostPath, out var path)) return NullIfEmpty(c.Status.Message);
        try
        {
            using var stream = File.OpenRead(path);
            var buffer = new byte[MaxTerminationMessage];
            var read = stream.Read(buffer, 0, buffer.Length);
            var text = Encoding.UTF8.GetString(buffer, 0, read);
            if (text.Length == 0 && c.Status.ExitCode != 0
                && c.Status.Annotations.GetValueOrDefault(KubeletLabels.ContainerTerminationMessagePolicy) == "FallbackToLogsOnError")
            {
                text = LogTail(c.Status.LogPath);
            }
            return NullIfEmpty(text);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return NullIfEmpty(c.Status.Message);
        }
    }

    /// <summary>The last 80 lines (at most 2 KiB) of a CRI log file, as kubelet's FallbackToLogsOnError.</summary>
    private static string LogTail(string logPath)
    {
        if (string.IsNullOrEmpty(logPath) || !File.Exists(logPath)) return "";
        var lines = File.ReadLines(logPath).TakeLast(80)
            .Select(l => l.Split(' ', 4) is [_, _, _, var content] ? content : l);
        var text = string.Join('\n', lines);
        return text.Length > 2048 ? text[^2048..] : text;
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    /// <summary>Kubelet's getPhase.</summary>
    public static string GetPhase(V1Pod pod, IReadOnlyList<V1ContainerStatus> init, IReadOnlyList<V1ContainerStatus> containers)
    {
        var restartPolicy = pod.Spec.RestartPolicy ?? "Always";
        int pendingInitialization = 0, failedInitialization = 0;
        int unknown = 0, running = 0, waiting = 0, stopped = 0, succeeded = 0;
        var sidecars = (pod.Spec.InitContainers ?? []).Where(PodActionDecisions.IsSidecar).Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var s in init)
        {
            if (sidecars.Contains(s.Name))
            {
                // A sidecar holds the pod Pending until it has started; once it ran, its exits do not count.
                if (s.State?.Running is not null) { if (s.Started != true) waiting++; }
                else if (s.State?.Waiting is not null) { if (s.LastState?.Terminated is null) waiting++; }
                else if (s.State?.Terminated is null) unknown++;
                continue;
            }
            if (s.State?.Terminated is { } t)
            {
                if (t.ExitCode == 0) continue;
                failedInitialization++;
            }
            else if (s.State?.Waiting is not null && s.LastState?.Terminated is { ExitCode: not 0 })
            {
                failedInitialization++;
            }
            else
            {
                pendingInitialization++;
            }
        }
        foreach (var s in containers)
        {
            if (s.State?.Running is not null) running++;
            else if (s.State?.Terminated is { } t)
            {
                stopped++;
                if (t.ExitCode == 0) succeeded++;
            }
            else if (s.State?.Waiting is not null)
            {
                if (s.LastState?.Terminated is not null) stopped++;
                else waiting++;
            }
            else unknown++;
        }
        if (failedInitialization > 0 && restartPolicy == "Never") return "Failed";
        if (pendingInitialization > 0 || failedInitialization > 0 && !containers.Any(c => c.State?.Running is not null || c.State?.Terminated is not null)) return "Pending";
        if (waiting > 0) return "Pending";
        if (running > 0 && unknown == 0) return "Running";
        if (running == 0 && stopped > 0 && unknown == 0)
        {
            if (restartPolicy == "Always") return "Running";
            if (stopped == succeeded) return "Succeeded";
            if (restartPolicy == "Never") return "Failed";
            return "Running";
        }
        return "Pending";
    }
}
