using System.Diagnostics;
using k8s.Models;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.Images;
using KubeletPS.Core.Pods.Probes;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.KubeRuntime;

// Kubelet's kuberuntime_container.go: starting a container (image, config, create, start,
// postStart) and stopping one or a whole pod (preStop, grace period, sidecars last).
public sealed partial class KubeGenericRuntimeManager
{
    /// <summary>
    /// A container that could not be created or started: kubelet's waiting reason
    /// (CreateContainerError, RunContainerError), a Failed event, and another try in 10 s.
    /// </summary>
    private void ContainerStartFailed(V1Pod pod, V1Container container, string reason, KubeletRuntimeException e, PodSyncResult result)
    {
        _log.Warning($"pod {pod.Name()} container {container.Name}: {reason}: {e.Message}");
        Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Warning, EventReasons.Failed, $"Error: {e.Message}");
        result.Waiting[container.Name] = new ContainerWaiting(reason, e.Message);
        result.Retry(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// Starts one decided container: a restart counts on its crash-loop back-off, then the image,
    /// the container's config, CreateContainer and StartContainer, and its postStart hook.
    /// </summary>
    private async Task StartContainerAsync(V1Pod pod, ContainerToStart start, string sandboxId, PodSandboxSpec sandboxSpec,
        string? podIp, IReadOnlyDictionary<string, string> volumePaths, PodSyncResult result, CancellationToken ct, Action? beforePull = null)
    {
        var name = pod.Name();
        var (container, isInit, latest) = (start.Container, start.IsInit, start.Latest);
        if (latest is { State: ContainerState.Exited, Status.FinishedAt: { } finishedAt })
        {
            // Not in its back-off (ComputePodActions saw to that): this restart doubles it.
            var next = _backOff.Next(PodActionDecisions.BackOffKey(pod, container), finishedAt, latest.RanFor);
            _log.Info($"pod {name}: restarting container {container.Name} (exit code {latest.Status.ExitCode}, restart {latest.RestartCount + 1}; back-off now {GoDuration.Format(next)}).");
        }

        var restartCount = start.RestartCount;
        string image;
        ImageInfo? imageStatus;
        try
        {
            (image, imageStatus) = await _images.EnsureImageStatusAsync(pod, container, sandboxSpec, ct, beforePull).ConfigureAwait(false);
        }
        catch (ImagePullException e)
        {
            _log.Warning($"pod {name} container {container.Name}: {e.Reason}: {e.Message}");
            // The image manager recorded Failed/BackOff with the detail; startContainer's own event names the reason.
            Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Warning, EventReasons.Failed, $"Error: {e.Reason}");
            result.Waiting[container.Name] = new ContainerWaiting(e.Reason, e.Message);
            result.Retry(TimeSpan.FromSeconds(10));
            return;
        }

        ContainerSpec spec;
        try
        {
            spec = _specs.Container(pod, container, isInit, restartCount, image, podIp, volumePaths, imageStatus);
        }
        catch (Exception e) when (e is ContainerConfigException or IOException)
        {
            // A subPath refusal tells the user only kubelet's message; what was found goes to the node's _log.
            _log.Warning($"pod {name} container {container.Name}: CreateContainerConfigError: {e.Message}{(e is SubPathException s ? $": {s.Detail}" : "")}");
            Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Warning, EventReasons.Failed, $"Error: {e.Message}");
            result.Waiting[container.Name] = new ContainerWaiting("CreateContainerConfigError", e.Message);
            result.Retry(TimeSpan.FromSeconds(10));
            return;
        }

        string id;
        result.Changed = true;
        try
        {
            id = await _runtime.CreateContainerAsync(sandboxId, spec, sandboxSpec, ct).ConfigureAwait(false);
            result.Created(id, sandboxId);
        }
        catch (KubeletRuntimeException e) when (!IsConnectionError(e))
        {
            ContainerStartFailed(pod, container, "CreateContainerError", e, result);
            return;
        }
        try
        {
            await _runtime.StartContainerAsync(id, ct).ConfigureAwait(false);
        }
        catch (KubeletRuntimeException e) when (!IsConnectionError(e))
        {
            ContainerStartFailed(pod, container, "RunContainerError", e, result);
            return;
        }
        _log.Info($"pod {name}: started {(isInit ? "init container" : "container")} {container.Name} ({Short(id)}, restartCount {restartCount}).");
        Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Normal, EventReasons.Created, $"Created container {container.Name}");
        Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Normal, EventReasons.Started, $"Started container {container.Name}");

        if (container.Lifecycle?.PostStart is { } postStart)
        {
            var outcome = await _prober.RunHandlerAsync(postStart, container, id, podIp, TimeSpan.FromSeconds(pod.Spec.TerminationGracePeriodSeconds ?? 30), ct).ConfigureAwait(false);
            if (outcome.Result != ProbeResult.Success)
            {
                _log.Warning($"pod {name} container {container.Name}: FailedPostStartHook: {outcome.Message}; killing the container.");
                result.Stopped = true;
                await StopAsync(id, MinimumGracePeriod, ct).ConfigureAwait(false);
                result.Waiting[container.Name] = new ContainerWaiting("PostStartHookError", outcome.Message);
            }
        }
    }

    /// <summary>
    /// Stops one container: preStop hook, then the stop signal with what is left of the grace period (at least 2 s).
    /// The Killing event says <paramref name="message"/>, or "Stopping container NAME".
    /// </summary>
    public async Task KillContainerAsync(V1Pod? pod, V1Container? container, RuntimeContainerStatus status, string? podIp, TimeSpan? gracePeriodOverride, string? message, CancellationToken ct)
    {
        var grace = gracePeriodOverride ?? TimeSpan.FromSeconds(pod?.Spec.TerminationGracePeriodSeconds
            ?? (long.TryParse(status.Status.Annotations.GetValueOrDefault(KubeletLabels.PodTerminationGracePeriod), out var g) ? g : 30));
        var preStop = container?.Lifecycle?.PreStop ?? PodRuntimeSpecs.PreStopFrom(status.Status.Annotations);
        if (preStop is not null && status.State == ContainerState.Running && grace > TimeSpan.Zero)
        {
            var watch = Stopwatch.StartNew();
            using var hookTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            hookTimeout.CancelAfter(grace);
            try
            {
                var outcome = await _prober.RunHandlerAsync(preStop, container, status.Id, podIp, grace, hookTimeout.Token).ConfigureAwait(false);
                if (outcome.Result != ProbeResult.Success) _log.Warning($"container {status.Name} ({Short(status.Id)}): preStop hook failed: {outcome.Message}");
                else _log.Info($"container {status.Name} ({Short(status.Id)}): preStop hook ran in {watch.ElapsedMilliseconds} ms.");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                _log.Warning($"container {status.Name} ({Short(status.Id)}): preStop hook did not finish within the grace period {GoDuration.Format(grace)}.");
            }
            grace -= watch.Elapsed;
        }
        if (grace < MinimumGracePeriod) grace = MinimumGracePeriod;
        if (status.State is ContainerState.Running or ContainerState.Created or ContainerState.Unknown)
        {
            _log.Info($"container {status.Name} ({Short(status.Id)}): stopping with a grace period of {GoDuration.Format(grace)}.");
            if (pod is not null) Events.Event(EventReferences.ForPod(pod, status.Name), EventTypes.Normal, EventReasons.Killing, message ?? $"Stopping container {status.Name}");
            await StopAsync(status.Id, grace, ct).ConfigureAwait(false);
        }
    }

    private async Task StopAsync(string id, TimeSpan grace, CancellationToken ct)
    {
        try { await _runtime.StopContainerAsync(id, grace, ct).ConfigureAwait(false); }
        catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
    }

    /// <summary>
    /// KillPod: every running container stopped in parallel with its grace period, then the
    /// sidecars one by one in reverse order with what is left of the grace period (as kubelet
    /// does, so they serve the app containers to the end), then the sandboxes.
    /// </summary>
    public async Task KillPodAsync(V1Pod? pod, RuntimePodStatus status, TimeSpan? gracePeriodOverride, CancellationToken ct)
    {
        var podIp = status.LatestSandbox?.Ip;
        var live = status.Containers.Where(c => c.State is ContainerState.Running or ContainerState.Created).ToList();
        V1Container? Spec(RuntimeContainerStatus c) => pod is null ? null : PodRuntimeSpecs.AllContainers(pod).Select(x => x.Container).FirstOrDefault(x => x.Name == c.Name);
        var sidecarOrder = (pod?.Spec.InitContainers ?? []).Where(PodActionDecisions.IsSidecar).Select(c => c.Name).Reverse().ToList();
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(live.Where(c => !sidecarOrder.Contains(c.Name)).Select(c => KillContainerAsync(pod, Spec(c), c, podIp, gracePeriodOverride, null, ct))).ConfigureAwait(false);
        if (pod is not null)
        {
            var grace = gracePeriodOverride ?? TimeSpan.FromSeconds(pod.Spec.TerminationGracePeriodSeconds ?? 30);
            foreach (var sidecar in sidecarOrder.SelectMany(n => live.Where(c => c.Name == n)))
            {
                var left = grace - watch.Elapsed;
                await KillContainerAsync(pod, Spec(sidecar), sidecar, podIp, left < MinimumGracePeriod ? MinimumGracePeriod : left, null, ct).ConfigureAwait(false);
            }
        }
        foreach (var sandbox in status.Sandboxes.Where(s => s.State == PodSandboxState.Ready))
        {
            try
            {
                await _runtime.StopPodSandboxAsync(sandbox.Id, ct).ConfigureAwait(false);
                _log.Info($"pod {sandbox.Namespace}/{sandbox.Name}: stopped sandbox {Short(sandbox.Id)}.");
            }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
        }
        _probes.RemovePod(status.Uid);
    }
}
