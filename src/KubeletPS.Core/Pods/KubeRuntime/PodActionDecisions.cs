using k8s.Models;
using KubeletPS.Core.Pods.Probes;
using KubeletPS.Core.Pods.Workers;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.KubeRuntime;

/// <summary>
/// Decide, then act: kubelet's computePodActions (pkg/kubelet/kuberuntime/kuberuntime_manager.go)
/// as a pure function of the pod, what the runtime has of it, the probe results and the crash-loop
/// back-off. It calls nothing; <see cref="KubeGenericRuntimeManager.SyncPodAsync"/> carries the
/// <see cref="PodActions"/> out.
/// </summary>
public static class PodActionDecisions
{
    /// <summary>A sidecar: an init container with restartPolicy Always, which keeps running beside the app containers.</summary>
    public static bool IsSidecar(V1Container container) => container.RestartPolicy == "Always";

    /// <summary>Whether a container in this state is started again under the pod's restartPolicy.</summary>
    public static bool ShouldRestart(V1Pod pod, RuntimeContainerStatus status) => status.State switch
    {
        ContainerState.Running => false,
        ContainerState.Exited => pod.Spec.RestartPolicy switch
        {
            "Never" => false,
            "OnFailure" => status.Status.ExitCode != 0,
            _ => true,
        },
        _ => true,
    };

    /// <summary>Whether an exited container is started again: always for a sidecar, else by the pod's restartPolicy.</summary>
    public static bool ShouldRestart(V1Pod pod, V1Container container, RuntimeContainerStatus status)
        => IsSidecar(container) ? status.State != ContainerState.Running : ShouldRestart(pod, status);

    /// <summary>
    /// Kubelet's podSandboxChanged: no sandbox; more than one ready (a sync that died between two
    /// RunPodSandbox calls); the latest not ready; its network namespace not the pod's (node or pod);
    /// or without an IP outside the host network.
    /// </summary>
    public static bool SandboxChanged(V1Pod pod, RuntimePodStatus status)
    {
        if (status.LatestSandbox is not { } sandbox) return true;
        var hostNetwork = pod.Spec.HostNetwork == true;
        return status.Sandboxes.Count(s => s.State == PodSandboxState.Ready) > 1
            || sandbox.State != PodSandboxState.Ready
            || sandbox.HostNetwork != hostNetwork
            || (!hostNetwork && sandbox.Ip is null);
    }

    /// <summary>What a sync of <paramref name="pod"/> must do, given what the runtime has of it.</summary>
    public static PodActions ComputePodActions(V1Pod pod, RuntimePodStatus status, IProbeResults probes, CrashLoopBackOff backOff)
    {
        ArgumentNullException.ThrowIfNull(pod);
        ArgumentNullException.ThrowIfNull(status);
        ArgumentNullException.ThrowIfNull(probes);
        ArgumentNullException.ThrowIfNull(backOff);
        var sandbox = status.LatestSandbox;
        var initContainers = pod.Spec.InitContainers ?? [];
        var containers = pod.Spec.Containers ?? [];
        var actions = new PodActions { SandboxId = sandbox?.Id, Attempt = sandbox?.Attempt ?? 0 };

        var createSandbox = SandboxChanged(pod, status);
        if (createSandbox)
        {
            if (sandbox is not null && status.Containers.Count > 0)
            {
                // Kubelet never recreates the sandbox of a Never pod whose containers ran: it is done.
                if (pod.Spec.RestartPolicy == "Never") return actions with { KillPod = true };
                // Kubelet: in a new sandbox every container starts again, but one that succeeded under OnFailure.
                var anyToStart = initContainers.Count > 0 || containers.Any(c => !(pod.Spec.RestartPolicy == "OnFailure" && status.Latest(c.Name) is { State: ContainerState.Exited, Status.ExitCode: 0 }));
                if (!anyToStart) return actions with { KillPod = true };
            }
            actions = actions with
            {
                CreateSandbox = true,
                Attempt = sandbox is null ? 0u : sandbox.Attempt + 1,
                KillPod = sandbox is not null,
                KillPodMessage = sandbox is null ? null
                    : $"sandbox {KubeGenericRuntimeManager.Short(sandbox.Id)} is {(sandbox.State == PodSandboxState.Ready ? "without an IP" : "not ready")}; killing the pod and creating a new sandbox",
            };
        }

        // A new sandbox has no containers yet; otherwise the ones in the latest sandbox are the pod's.
        var inSandbox = createSandbox ? [] : status.Containers.Where(c => c.PodSandboxId == sandbox!.Id).ToList();
        RuntimeContainerStatus? Current(string containerName) => inSandbox.FirstOrDefault(c => c.Name == containerName);

        // Init containers, one at a time, in order. A sidecar (an init container with restartPolicy
        // Always) is started and, once started, left running while the next one runs. Once the app
        // containers exist in this sandbox the pod is initialized: sidecars are then kept running
        // alongside them instead of holding them back.
        var appsCreated = containers.Any(c => Current(c.Name) is not null);
        if (!appsCreated)
        {
            foreach (var init in initContainers)
            {
                var current = Current(init.Name);
                if (IsSidecar(init))
                {
                    if (current is { State: ContainerState.Running })
                    {
                        if (init.StartupProbe is not null && !probes.IsStarted(init, current.Id)) return actions;
                        continue;
                    }
                    return StartInit(actions, pod, init, status, backOff);
                }
                if (current is { State: ContainerState.Running }) return actions;
                if (current is { State: ContainerState.Exited } && current.Status.ExitCode == 0) continue;
                if (current is { State: ContainerState.Exited } && pod.Spec.RestartPolicy == "Never")
                {
                    return actions with
                    {
                        KillPod = true,
                        KillPodMessage = $"init container {init.Name} failed with exit code {current.Status.ExitCode} and restartPolicy is Never; the pod has failed",
                    };
                }
                return StartInit(actions, pod, init, status, backOff);
            }
        }

        // App containers, and sidecars kept running once the pod is initialized.
        var kills = new List<ContainerToKill>();
        var starts = new List<ContainerToStart>();
        var backingOff = new List<ContainerBackingOff>();
        var keep = (appsCreated ? initContainers.Where(IsSidecar) : []).Select(c => (Container: c, IsInit: true))
            .Concat(containers.Select(c => (Container: c, IsInit: false)));
        foreach (var (container, isInit) in keep)
        {
            var latest = status.Latest(container.Name);
            var current = Current(container.Name);
            if (current is { State: ContainerState.Running })
            {
                // Kubelet's computePodActions: the reason becomes the Killing event's message.
                string? why = null, detail = null;
                var restart = pod.Spec.RestartPolicy != "Never" || IsSidecar(container);
                if (current.Hash.Length > 0 && current.Hash != PodRuntimeSpecs.Hash(container))
                {
                    why = $"Container {container.Name} definition changed";
                    restart = true;
                }
                else if (probes.RestartReason(current.Id) is { } failed)
                {
                    why = $"Container {container.Name} failed {failed.Type.ToString().ToLowerInvariant()} probe";
                    detail = failed.Outcome.Message;
                }
                if (why is null) continue;
                if (restart) why += ", will be restarted";
                kills.Add(new ContainerToKill(current, container, why, detail));
                if (!restart) continue;
                // The instance just killed is the latest; the new one is started at once, without back-off.
                starts.Add(new ContainerToStart(container, isInit, current with { Status = current.Status with { State = ContainerState.Running } }));
                continue;
            }
            if (latest is { State: ContainerState.Exited } && !ShouldRestart(pod, container, latest)) continue;
            if (InBackOff(pod, container, latest, backOff) is { } waiting) backingOff.Add(waiting);
            else starts.Add(new ContainerToStart(container, isInit, latest));
        }
        return actions with { ContainersToKill = kills, ContainersToStart = starts, ContainersInBackOff = backingOff, PruneDeadInstances = true };
    }

    /// <summary>Kubelet's back-off key for a container of a pod (name, namespace, uid, container, spec hash).</summary>
    public static string BackOffKey(V1Pod pod, V1Container container)
        => CrashLoopBackOff.Key(pod.Name(), pod.Namespace() ?? "default", pod.Metadata.Uid, container.Name, PodRuntimeSpecs.Hash(container));

    private static PodActions StartInit(PodActions actions, V1Pod pod, V1Container init, RuntimePodStatus status, CrashLoopBackOff backOff)
    {
        var latest = status.Latest(init.Name);
        return InBackOff(pod, init, latest, backOff) is { } waiting
            ? actions with { ContainersInBackOff = [waiting] }
            : actions with { NextInitContainer = new ContainerToStart(init, true, latest) };
    }

    private static ContainerBackingOff? InBackOff(V1Pod pod, V1Container container, RuntimeContainerStatus? latest, CrashLoopBackOff backOff)
        => latest is { State: ContainerState.Exited, Status.FinishedAt: { } finishedAt } && backOff.IsInBackOffSince(BackOffKey(pod, container), finishedAt, out var delay, out var remaining)
            ? new ContainerBackingOff(container, delay, remaining)
            : null;
}
