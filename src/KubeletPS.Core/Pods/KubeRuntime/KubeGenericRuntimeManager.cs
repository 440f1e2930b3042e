using System.Diagnostics;
using k8s.Models;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.Images;
using KubeletPS.Core.Pods.Probes;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Pods.Workers;
using KubeletPS.Core.Runtime;

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

/// <summary>
/// The kuberuntime manager: reads a pod's true state from the runtime (GetPodStatus), computes what
/// to do about it and does it through CRI (SyncPod: kill pod / create sandbox / start init containers
/// in order / start or restart app containers by restartPolicy with crash-loop back-off), and kills
/// pods with their grace period and preStop hooks (KillPod).
/// </summary>
public sealed class KubeGenericRuntimeManager(
    IRuntimeService runtime,
    PodRuntimeSpecs specs,
    PodVolumes volumes,
    ImageManager images,
    ProbeManager probes,
    Prober prober,
    CrashLoopBackOff backOff,
    IKubeletLog log,
    TimeProvider? time = null)
{
    /// <summary>Kubelet's minimumGracePeriodInSeconds.</summary>
    public static readonly TimeSpan MinimumGracePeriod = TimeSpan.FromSeconds(2);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private SemaphoreSlim _podStarts = new(DefaultParallelSandboxCreations);

    /// <summary>Pods started at once by default: twice the cores, at least 4.</summary>
    public static int DefaultParallelSandboxCreations => Math.Max(4, 2 * Environment.ProcessorCount);

    /// <summary>
    /// How many pods are started at once: a sync that creates a pod's sandbox holds one of these
    /// slots until its containers are created and started (an image pull gives the slot up first, so a
    /// slow registry never holds other pods back). When many pods arrive together (a node coming back,
    /// a burst of static pods), the runtime would otherwise set up namespaces, CNI, the pause container
    /// and the containers of all of them at once, and every pod would wait for the slowest; a bounded
    /// number keeps the runtime's throughput and lets the first pods run early. Set before the first sync.
    /// </summary>
    public int MaxParallelSandboxCreations
    {
        get => _maxParallelSandboxCreations;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _maxParallelSandboxCreations = value;
            _podStarts = new SemaphoreSlim(value);
        }
    }

    private readonly int _maxParallelSandboxCreations = DefaultParallelSandboxCreations;

    public IRuntimeService Runtime => runtime;

    /// <summary>Where kubelet's pod events go (Created, Started, Killing, BackOff, Failed, FailedMount); nowhere in standalone mode.</summary>
    public IEventRecorder Events { get; set; } = NullEventRecorder.Instance;

    /// <summary>Everything the runtime has for one pod UID, newest first.</summary>
    public async Task<RuntimePodStatus> GetPodStatusAsync(string uid, CancellationToken ct)
    {
        var selector = new Dictionary<string, string> { [KubeletLabels.PodUid] = uid };
        var sandboxes = await runtime.ListPodSandboxesAsync(new PodSandboxFilter { LabelSelector = selector }, ct).ConfigureAwait(false);
        var containers = await runtime.ListContainersAsync(new ContainerFilter { LabelSelector = selector }, ct).ConfigureAwait(false);
        var sandboxStatuses = new List<SandboxStatusInfo>();
        foreach (var sandbox in sandboxes.OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Attempt))
        {
            try { sandboxStatuses.Add(await runtime.PodSandboxStatusAsync(sandbox.Id, ct).ConfigureAwait(false)); }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
        }
        var containerStatuses = new List<RuntimeContainerStatus>();
        foreach (var container in containers)
        {
            try { containerStatuses.Add(new RuntimeContainerStatus(await runtime.ContainerStatusAsync(container.Id, ct).ConfigureAwait(false), container.PodSandboxId)); }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
        }
        containerStatuses = containerStatuses.OrderByDescending(c => c.Status.CreatedAt).ThenByDescending(c => c.RestartCount).ToList();
        var first = sandboxStatuses.FirstOrDefault();
        return new RuntimePodStatus(uid, first?.Name ?? "", first?.Namespace ?? "", sandboxStatuses, containerStatuses);
    }

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

    /// <summary>A sidecar: an init container with restartPolicy Always, which keeps running beside the app containers.</summary>
    public static bool IsSidecar(V1Container container) => container.RestartPolicy == "Always";

    /// <summary>Whether an exited container is started again: always for a sidecar, else by the pod's restartPolicy.</summary>
    public static bool ShouldRestart(V1Pod pod, V1Container container, RuntimeContainerStatus status)
        => IsSidecar(container) ? status.State != ContainerState.Running : ShouldRestart(pod, status);

    /// <summary>SyncPod: make the runtime match the pod spec.</summary>
    public async Task<PodSyncResult> SyncPodAsync(V1Pod pod, RuntimePodStatus status, CancellationToken ct)
    {
        using var slot = new PodStartSlot(_podStarts);
        return await SyncPodCoreAsync(pod, status, slot, ct).ConfigureAwait(false);
    }

    /// <summary>A pod-start slot: taken just before the sandbox is created, given back once (before an image pull, or when the sync ends).</summary>
    private sealed class PodStartSlot(SemaphoreSlim semaphore) : IDisposable
    {
        private int _state; // 0 not taken, 1 taken, 2 given back

        public async Task TakeAsync(CancellationToken ct)
        {
            await semaphore.WaitAsync(ct).ConfigureAwait(false);
            Volatile.Write(ref _state, 1);
        }

        public void Dispose()
        {
            if (Interlocked.CompareExchange(ref _state, 2, 1) == 1) semaphore.Release();
        }
    }

    private async Task<PodSyncResult> SyncPodCoreAsync(V1Pod pod, RuntimePodStatus status, PodStartSlot slot, CancellationToken ct)
    {
        var result = new PodSyncResult();
        Action ReleaseSlot = slot.Dispose;
        var name = pod.Name();
        var hostNetwork = pod.Spec.HostNetwork == true;
        var sandbox = status.LatestSandbox;
        var createSandbox = sandbox is null || sandbox.State != PodSandboxState.Ready || (!hostNetwork && sandbox.Ip is null);
        var initContainers = pod.Spec.InitContainers ?? [];
        var containers = pod.Spec.Containers ?? [];

        string sandboxId;
        string? podIp;
        IReadOnlyDictionary<string, string> volumePaths;
        try
        {
            volumePaths = volumes.Prepare(pod);
        }
        catch (Exception e) when (e is ContainerConfigException or IOException or UnauthorizedAccessException)
        {
            log.Warning($"pod {name}: cannot set up volumes: {e.Message}");
            // Identical messages at each retry add up in one Event's count (the recorder aggregates them).
            Events.Event(EventReferences.ForPod(pod), EventTypes.Warning, EventReasons.FailedMount, VolumeSetUpErrors.FailedMountMessage(e.Message));
            foreach (var (c, _) in PodRuntimeSpecs.AllContainers(pod)) result.Waiting[c.Name] = new ContainerWaiting("CreateContainerConfigError", e.Message);
            // As for a container whose env cannot be built: try again soon, the object may appear.
            result.Retry(TimeSpan.FromSeconds(10));
            return result;
        }

        try
        {
            PodSecurityContexts.Seccomp(pod, null, specs.Security);
        }
        catch (ContainerConfigException e)
        {
            // The pod's own seccomp profile (the sandbox's) cannot be used: no container can start either.
            log.Warning($"pod {name}: CreateContainerConfigError: {e.Message}");
            Events.Event(EventReferences.ForPod(pod), EventTypes.Warning, EventReasons.Failed, $"Error: {e.Message}");
            foreach (var (c, _) in PodRuntimeSpecs.AllContainers(pod)) result.Waiting[c.Name] = new ContainerWaiting("CreateContainerConfigError", e.Message);
            result.Retry(TimeSpan.FromSeconds(10));
            return result;
        }

        if (createSandbox)
        {
            if (sandbox is not null && status.Containers.Count > 0)
            {
                if (pod.Spec.RestartPolicy == "Never")
                {
                    // Kubelet never recreates the sandbox of a Never pod whose containers ran: it is done.
                    result.Changed = true;
                    await KillPodAsync(pod, status, null, ct).ConfigureAwait(false);
                    return result;
                }
                var anyToStart = initContainers.Count > 0 || containers.Any(c => status.Latest(c.Name) is not { } s || ShouldRestart(pod, s));
                if (!anyToStart)
                {
                    result.Changed = true;
                    await KillPodAsync(pod, status, null, ct).ConfigureAwait(false);
                    return result;
                }
            }
            if (sandbox is not null)
            {
                log.Info($"pod {name}: sandbox {Short(sandbox.Id)} is {(sandbox.State == PodSandboxState.Ready ? "without an IP" : "not ready")}; killing the pod and creating a new sandbox.");
                result.Changed = true;
                await KillPodAsync(pod, status, null, ct).ConfigureAwait(false);
            }
            var attempt = sandbox is null ? 0u : sandbox.Attempt + 1;
            var spec = specs.Sandbox(pod, attempt);
            result.Changed = true;
            await slot.TakeAsync(ct).ConfigureAwait(false);
            var watch = Stopwatch.StartNew();
            try
            {
                sandboxId = await runtime.RunPodSandboxAsync(spec, ct).ConfigureAwait(false);
            }
            catch (KubeletRuntimeException e) when (!IsConnectionError(e))
            {
                log.Warning($"pod {name}: RunPodSandbox failed: {e.Message}");
                foreach (var (c, _) in PodRuntimeSpecs.AllContainers(pod))
                    result.Waiting[c.Name] = new ContainerWaiting("ContainerCreating", $"Failed to create pod sandbox: {e.Message}");
                result.Retry(TimeSpan.FromSeconds(5));
                return result;
            }
            var created = await runtime.PodSandboxStatusAsync(sandboxId, ct).ConfigureAwait(false);
            podIp = hostNetwork ? null : created.Ip;
            log.Info($"pod {name}: created sandbox {Short(sandboxId)} (attempt {attempt}{(podIp is null ? "" : $", IP {podIp}")}) in {watch.ElapsedMilliseconds} ms.");
        }
        else
        {
            sandboxId = sandbox!.Id;
            podIp = hostNetwork ? null : sandbox.Ip;
        }

        var sandboxSpec = specs.Sandbox(pod, createSandbox ? (sandbox is null ? 0u : sandbox.Attempt + 1) : sandbox!.Attempt);
        var inSandbox = createSandbox ? [] : status.Containers.Where(c => c.PodSandboxId == sandboxId).ToList();
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
                        if (init.StartupProbe is not null && !probes.IsStarted(init, current.Id)) return result;
                        continue;
                    }
                    await StartContainerAsync(pod, init, isInit: true, status.Latest(init.Name), sandboxId, sandboxSpec, podIp, volumePaths, result, ct, ReleaseSlot).ConfigureAwait(false);
                    return result;
                }
                if (current is { State: ContainerState.Running }) return result;
                if (current is { State: ContainerState.Exited } && current.Status.ExitCode == 0) continue;
                if (current is { State: ContainerState.Exited } && pod.Spec.RestartPolicy == "Never")
                {
                    log.Info($"pod {name}: init container {init.Name} failed with exit code {current.Status.ExitCode} and restartPolicy is Never; the pod has failed.");
                    result.Changed = true;
                    await KillPodAsync(pod, status, null, ct).ConfigureAwait(false);
                    return result;
                }
                await StartContainerAsync(pod, init, isInit: true, status.Latest(init.Name), sandboxId, sandboxSpec, podIp, volumePaths, result, ct, ReleaseSlot).ConfigureAwait(false);
                return result;
            }
        }

        // App containers, and sidecars kept running once the pod is initialized.
        var starts = new List<Task>();
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
                log.Info($"pod {name}: {why}{(detail is null ? "" : $": {detail}")}.");
                result.Changed = true;
                await KillContainerAsync(pod, container, current, podIp, null, why, ct).ConfigureAwait(false);
                if (!restart) continue;
                // The instance just killed is the latest; the new one is started at once, without back-off.
                latest = current with { Status = current.Status with { State = ContainerState.Running } };
            }
            else if (latest is { State: ContainerState.Exited } && !ShouldRestart(pod, container, latest))
            {
                continue;
            }
            starts.Add(StartContainerAsync(pod, container, isInit, latest, sandboxId, sandboxSpec, podIp, volumePaths, result, ct, ReleaseSlot));
        }
        await Task.WhenAll(starts).ConfigureAwait(false);
        if (await RemoveDeadInstancesAsync(status, sandboxId, ct).ConfigureAwait(false)) result.Changed = true;
        return result;
    }

    /// <summary>
    /// A container that could not be created or started: kubelet's waiting reason
    /// (CreateContainerError, RunContainerError), a Failed event, and another try in 10 s.
    /// </summary>
    private void ContainerStartFailed(V1Pod pod, V1Container container, string reason, KubeletRuntimeException e, PodSyncResult result)
    {
        log.Warning($"pod {pod.Name()} container {container.Name}: {reason}: {e.Message}");
        Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Warning, EventReasons.Failed, $"Error: {e.Message}");
        result.Waiting[container.Name] = new ContainerWaiting(reason, e.Message);
        result.Retry(TimeSpan.FromSeconds(10));
    }

    private async Task StartContainerAsync(V1Pod pod, V1Container container, bool isInit, RuntimeContainerStatus? latest, string sandboxId, PodSandboxSpec sandboxSpec,
        string? podIp, IReadOnlyDictionary<string, string> volumePaths, PodSyncResult result, CancellationToken ct, Action? beforePull = null)
    {
        var name = pod.Name();
        var hash = PodRuntimeSpecs.Hash(container);
        var key = CrashLoopBackOff.Key(name, pod.Namespace() ?? "default", pod.Metadata.Uid, container.Name, hash);
        if (latest is { State: ContainerState.Exited, Status.FinishedAt: { } finishedAt })
        {
            if (backOff.IsInBackOffSince(key, finishedAt, out var delay, out var remaining))
            {
                result.Waiting[container.Name] = new ContainerWaiting("CrashLoopBackOff", $"back-off {GoDuration.Format(delay)} restarting failed container={container.Name} pod={name}_{pod.Namespace()}({pod.Metadata.Uid})");
                Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Warning, EventReasons.BackOff, $"Back-off restarting failed container {container.Name} in pod {name}_{pod.Namespace()}({pod.Metadata.Uid})");
                result.Retry(remaining);
                return;
            }
            var next = backOff.Next(key, finishedAt, latest.RanFor);
            log.Info($"pod {name}: restarting container {container.Name} (exit code {latest.Status.ExitCode}, restart {latest.RestartCount + 1}; back-off now {GoDuration.Format(next)}).");
        }

        var restartCount = latest is null ? 0 : latest.RestartCount + 1;
        string image;
        ImageInfo? imageStatus;
        try
        {
            (image, imageStatus) = await images.EnsureImageStatusAsync(pod, container, sandboxSpec, ct, beforePull).ConfigureAwait(false);
        }
        catch (ImagePullException e)
        {
            log.Warning($"pod {name} container {container.Name}: {e.Reason}: {e.Message}");
            Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Warning,
                e.Reason == "ImagePullBackOff" ? EventReasons.BackOff : EventReasons.Failed, e.Message);
            result.Waiting[container.Name] = new ContainerWaiting(e.Reason, e.Message);
            result.Retry(TimeSpan.FromSeconds(10));
            return;
        }

        ContainerSpec spec;
        try
        {
            spec = specs.Container(pod, container, isInit, restartCount, image, podIp, volumePaths, imageStatus);
        }
        catch (Exception e) when (e is ContainerConfigException or IOException)
        {
            // A subPath refusal tells the user only kubelet's message; what was found goes to the node's log.
            log.Warning($"pod {name} container {container.Name}: CreateContainerConfigError: {e.Message}{(e is SubPathException s ? $": {s.Detail}" : "")}");
            Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Warning, EventReasons.Failed, $"Error: {e.Message}");
            result.Waiting[container.Name] = new ContainerWaiting("CreateContainerConfigError", e.Message);
            result.Retry(TimeSpan.FromSeconds(10));
            return;
        }

        string id;
        result.Changed = true;
        try
        {
            id = await runtime.CreateContainerAsync(sandboxId, spec, sandboxSpec, ct).ConfigureAwait(false);
        }
        catch (KubeletRuntimeException e) when (!IsConnectionError(e))
        {
            ContainerStartFailed(pod, container, "CreateContainerError", e, result);
            return;
        }
        try
        {
            await runtime.StartContainerAsync(id, ct).ConfigureAwait(false);
        }
        catch (KubeletRuntimeException e) when (!IsConnectionError(e))
        {
            ContainerStartFailed(pod, container, "RunContainerError", e, result);
            return;
        }
        log.Info($"pod {name}: started {(isInit ? "init container" : "container")} {container.Name} ({Short(id)}, restartCount {restartCount}).");
        Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Normal, EventReasons.Created, $"Created container {container.Name}");
        Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Normal, EventReasons.Started, $"Started container {container.Name}");

        if (container.Lifecycle?.PostStart is { } postStart)
        {
            var outcome = await prober.RunHandlerAsync(postStart, container, id, podIp, TimeSpan.FromSeconds(pod.Spec.TerminationGracePeriodSeconds ?? 30), ct).ConfigureAwait(false);
            if (outcome.Result != ProbeResult.Success)
            {
                log.Warning($"pod {name} container {container.Name}: FailedPostStartHook: {outcome.Message}; killing the container.");
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
                var outcome = await prober.RunHandlerAsync(preStop, container, status.Id, podIp, grace, hookTimeout.Token).ConfigureAwait(false);
                if (outcome.Result != ProbeResult.Success) log.Warning($"container {status.Name} ({Short(status.Id)}): preStop hook failed: {outcome.Message}");
                else log.Info($"container {status.Name} ({Short(status.Id)}): preStop hook ran in {watch.ElapsedMilliseconds} ms.");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                log.Warning($"container {status.Name} ({Short(status.Id)}): preStop hook did not finish within the grace period {GoDuration.Format(grace)}.");
            }
            grace -= watch.Elapsed;
        }
        if (grace < MinimumGracePeriod) grace = MinimumGracePeriod;
        if (status.State is ContainerState.Running or ContainerState.Created or ContainerState.Unknown)
        {
            log.Info($"container {status.Name} ({Short(status.Id)}): stopping with a grace period of {GoDuration.Format(grace)}.");
            if (pod is not null) Events.Event(EventReferences.ForPod(pod, status.Name), EventTypes.Normal, EventReasons.Killing, message ?? $"Stopping container {status.Name}");
            await StopAsync(status.Id, grace, ct).ConfigureAwait(false);
        }
    }

    private async Task StopAsync(string id, TimeSpan grace, CancellationToken ct)
    {
        try { await runtime.StopContainerAsync(id, grace, ct).ConfigureAwait(false); }
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
        var sidecarOrder = (pod?.Spec.InitContainers ?? []).Where(IsSidecar).Select(c => c.Name).Reverse().ToList();
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
                await runtime.StopPodSandboxAsync(sandbox.Id, ct).ConfigureAwait(false);
                log.Info($"pod {sandbox.Namespace}/{sandbox.Name}: stopped sandbox {Short(sandbox.Id)}.");
            }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
        }
        probes.RemovePod(status.Uid);
    }

    /// <summary>Removes what is left of a killed pod: containers, sandboxes, its directories and logs.</summary>
    public async Task RemovePodAsync(RuntimePodStatus status, string? logDirectory, CancellationToken ct)
    {
        foreach (var container in status.Containers)
        {
            try { await runtime.RemoveContainerAsync(container.Id, ct).ConfigureAwait(false); }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
        }
        foreach (var sandbox in status.Sandboxes)
        {
            try { await runtime.RemovePodSandboxAsync(sandbox.Id, ct).ConfigureAwait(false); }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
        }
        TryDelete(volumes.PodDirectory(status.Uid));
        if (logDirectory is not null) TryDelete(logDirectory);
        backOff.ForgetPod(status.Uid);
        images.ForgetPod(status.Uid);
        volumes.ForgetPod(status.Uid);
    }

    /// <summary>Kubelet's container GC for one pod: one dead instance kept per container, old sandboxes removed.</summary>
    private async Task<bool> RemoveDeadInstancesAsync(RuntimePodStatus status, string currentSandboxId, CancellationToken ct)
    {
        var removed = false;
        foreach (var group in status.Containers.GroupBy(c => c.Name))
        {
            foreach (var dead in group.Skip(2).Where(c => c.State == ContainerState.Exited))
            {
                removed = true;
                try { await runtime.RemoveContainerAsync(dead.Id, ct).ConfigureAwait(false); }
                catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
            }
        }
        foreach (var old in status.Sandboxes.Where(s => s.Id != currentSandboxId && s.State != PodSandboxState.Ready))
        {
            if (status.Containers.Any(c => c.PodSandboxId == old.Id && c.State == ContainerState.Running)) continue;
            try
            {
                foreach (var c in status.Containers.Where(c => c.PodSandboxId == old.Id && status.Latest(c.Name)?.Id != c.Id && status.Previous(c.Name)?.Id != c.Id))
                {
                    removed = true;
                    await runtime.RemoveContainerAsync(c.Id, ct).ConfigureAwait(false);
                }
                if (!status.Containers.Any(c => c.PodSandboxId == old.Id && (status.Latest(c.Name)?.Id == c.Id || status.Previous(c.Name)?.Id == c.Id)))
                {
                    removed = true;
                    await runtime.RemovePodSandboxAsync(old.Id, ct).ConfigureAwait(false);
                }
            }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
        }
        return removed;
    }

    /// <summary>
    /// Removes a pod's directory; anything still mounted under it (a subPath bind mount, a tmpfs) is
    /// unmounted first, and the directory is kept rather than deleted through a mount.
    /// </summary>
    private static void TryDelete(string directory)
    {
        try { HostMounts.RemoveDirectory(directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    public static bool IsConnectionError(KubeletRuntimeException e) => e.Kind is RuntimeErrorKind.EndpointMissing or RuntimeErrorKind.ConnectionFailed or RuntimeErrorKind.Timeout;

    internal static string Short(string id) => id.Length > 13 ? id[..13] : id;
}
