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

/// <summary>
/// The kuberuntime manager: reads a pod's true state from the runtime (GetPodStatus), and makes the
/// runtime match the pod (SyncPod): <see cref="PodActionDecisions.ComputePodActions"/> decides — kill
/// pod / create sandbox / start init containers in order / start or restart app containers by
/// restartPolicy with crash-loop back-off — and SyncPod carries that out through CRI. It kills pods
/// with their grace period and preStop hooks (KillPod) and removes what is left of them.
/// </summary>
public sealed partial class KubeGenericRuntimeManager
{
    /// <summary>Kubelet's minimumGracePeriodInSeconds.</summary>
    public static readonly TimeSpan MinimumGracePeriod = TimeSpan.FromSeconds(2);

    private readonly IRuntimeService _runtime;
    private readonly PodRuntimeSpecs _specs;
    private readonly PodVolumes _volumes;
    private readonly ImageManager _images;
    private readonly ProbeManager _probes;
    private readonly Prober _prober;
    private readonly CrashLoopBackOff _backOff;
    private readonly IKubeletLog _log;
    private SemaphoreSlim _podStarts = new(DefaultParallelSandboxCreations);

    public KubeGenericRuntimeManager(IRuntimeService runtime, PodRuntimeSpecs specs, PodVolumes volumes, ImageManager images,
        ProbeManager probes, Prober prober, CrashLoopBackOff backOff, IKubeletLog log)
    {
        _runtime = runtime ?? throw new ArgumentNullException(nameof(runtime));
        _specs = specs ?? throw new ArgumentNullException(nameof(specs));
        _volumes = volumes ?? throw new ArgumentNullException(nameof(volumes));
        _images = images ?? throw new ArgumentNullException(nameof(images));
        _probes = probes ?? throw new ArgumentNullException(nameof(probes));
        _prober = prober ?? throw new ArgumentNullException(nameof(prober));
        _backOff = backOff ?? throw new ArgumentNullException(nameof(backOff));
        _log = log ?? throw new ArgumentNullException(nameof(log));
    }

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

    public IRuntimeService Runtime => _runtime;

    /// <summary>
    /// Called before a pod's sandbox is created: the container manager's pod cgroup (kubelet's syncPod
    /// creates it before the runtime's SyncPod). A <see cref="KubeletException"/> leaves the pod waiting.
    /// </summary>
    public Action<V1Pod>? EnsurePodCgroup { get; init; }

    /// <summary>Where kubelet's pod events go (Created, Started, Killing, BackOff, Failed, FailedMount); nowhere in standalone mode.</summary>
    public IEventRecorder Events { get; set; } = NullEventRecorder.Instance;

    /// <summary>Where started pods and sandbox failures are counted (kubelet_started_pods_total, _errors_total); none when null.</summary>
    public Metrics.KubeletMetricSet? Metrics { get; init; }

    /// <summary>Everything the runtime has for one pod UID, newest first.</summary>
    public async Task<RuntimePodStatus> GetPodStatusAsync(string uid, CancellationToken ct)
    {
        var selector = new Dictionary<string, string> { [KubeletLabels.PodUid] = uid };
        var sandboxes = await _runtime.ListPodSandboxesAsync(new PodSandboxFilter { LabelSelector = selector }, ct).ConfigureAwait(false);
        var containers = await _runtime.ListContainersAsync(new ContainerFilter { LabelSelector = selector }, ct).ConfigureAwait(false);
        var sandboxStatuses = new List<SandboxStatusInfo>();
        foreach (var sandbox in sandboxes.OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Attempt))
        {
            try { sandboxStatuses.Add(await _runtime.PodSandboxStatusAsync(sandbox.Id, ct).ConfigureAwait(false)); }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
        }
        var containerStatuses = new List<RuntimeContainerStatus>();
        foreach (var container in containers)
        {
            try { containerStatuses.Add(new RuntimeContainerStatus(await _runtime.ContainerStatusAsync(container.Id, ct).ConfigureAwait(false), container.PodSandboxId)); }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
        }
        return PodStatusOf(uid, sandboxStatuses, containerStatuses);
    }

    /// <summary>Sandboxes newest first (as listed) and container instances newest first, the pod's name from the newest sandbox.</summary>
    private static RuntimePodStatus PodStatusOf(string uid, IReadOnlyList<SandboxStatusInfo> sandboxes, IEnumerable<RuntimeContainerStatus> containers)
    {
        var first = sandboxes.Count > 0 ? sandboxes[0] : null;
        return new RuntimePodStatus(uid, first?.Name ?? "", first?.Namespace ?? "", sandboxes,
            containers.OrderByDescending(c => c.Status.CreatedAt).ThenByDescending(c => c.RestartCount).ToList());
    }

    /// <summary>
    /// The pod's runtime state after a sync that only created things: <paramref name="before"/> (what
    /// the sync acted on) with the sandbox it created, as PodSandboxStatus answered then, and one
    /// ContainerStatus per container it created — no listing of the runtime. A sync that stopped
    /// anything, or changed the runtime without creating anything (a RunPodSandbox that failed part-way),
    /// reads the whole pod again (<see cref="GetPodStatusAsync"/>). Whatever else changed
    /// meanwhile (a container that exited) the next relist reports, and that event, not seen in this
    /// state, wakes the pod's worker.
    /// </summary>
    public async Task<RuntimePodStatus> GetPodStatusAfterSyncAsync(RuntimePodStatus before, PodSyncResult result, CancellationToken ct)
    {
        var created = result.CreatedContainers;
        if (result.Stopped || (result.CreatedSandbox is null && created.Count == 0)) return await GetPodStatusAsync(before.Uid, ct).ConfigureAwait(false);
        var sandboxes = result.CreatedSandbox is { } sandbox ? [sandbox, .. before.Sandboxes.Where(s => s.Id != sandbox.Id)] : before.Sandboxes;
        var containers = before.Containers.ToList();
        foreach (var (id, sandboxId) in created)
        {
            try { containers.Add(new RuntimeContainerStatus(await _runtime.ContainerStatusAsync(id, ct).ConfigureAwait(false), sandboxId)); }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound) { }
        }
        return PodStatusOf(before.Uid, sandboxes, containers);
    }

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

    /// <summary>
    /// Kubelet's SyncPod steps: the pod's volumes and sandbox-level config are checked, then the
    /// decided actions are carried out — kill the pod, create the sandbox, then the next init
    /// container, or the containers to kill and to start, and the dead instances pruned.
    /// </summary>
    private async Task<PodSyncResult> SyncPodCoreAsync(V1Pod pod, RuntimePodStatus status, PodStartSlot slot, CancellationToken ct)
    {
        var result = new PodSyncResult();
        var name = pod.Name();
        if (PrepareVolumes(pod, result) is not { } volumePaths) return result;
        if (!CheckPodSeccomp(pod, result)) return result;

        var actions = PodActionDecisions.ComputePodActions(pod, status, _probes, _backOff);
        if (actions.KillPod)
        {
            if (actions.KillPodMessage is { } message) _log.Info($"pod {name}: {message}.");
            result.Changed = true;
            result.Stopped = true;
            await KillPodAsync(pod, status, null, ct).ConfigureAwait(false);
            if (!actions.CreateSandbox) return result;
        }

        var hostNetwork = pod.Spec.HostNetwork == true;
        string sandboxId;
        string? podIp;
        PodSandboxSpec sandboxSpec;
        if (actions.CreateSandbox)
        {
            if (!EnsureCgroup(pod, result)) return result;
            sandboxSpec = _specs.Sandbox(pod, actions.Attempt);
            result.Changed = true;
            await slot.TakeAsync(ct).ConfigureAwait(false);
            var watch = Stopwatch.StartNew();
            Metrics?.StartedPods.Inc();
            try
            {
                sandboxId = await _runtime.RunPodSandboxAsync(sandboxSpec, ct).ConfigureAwait(false);
            }
            catch (KubeletRuntimeException e)
            {
                Metrics?.StartedPodsErrors.Inc();
                if (IsConnectionError(e)) throw;
                _log.Warning($"pod {name}: RunPodSandbox failed: {e.Message}");
                foreach (var (c, _) in PodRuntimeSpecs.AllContainers(pod))
                    result.Waiting[c.Name] = new ContainerWaiting("ContainerCreating", $"Failed to create pod sandbox: {e.Message}");
                result.Retry(TimeSpan.FromSeconds(5));
                return result;
            }
            var created = await _runtime.PodSandboxStatusAsync(sandboxId, ct).ConfigureAwait(false);
            result.CreatedSandbox = created;
            podIp = hostNetwork ? null : created.Ip;
            _log.Info($"pod {name}: created sandbox {Short(sandboxId)} (attempt {actions.Attempt}{(podIp is null ? "" : $", IP {podIp}")}) in {watch.ElapsedMilliseconds} ms.");
        }
        else
        {
            sandboxId = actions.SandboxId!;
            podIp = hostNetwork ? null : status.LatestSandbox!.Ip;
            sandboxSpec = _specs.Sandbox(pod, actions.Attempt);
        }

        foreach (var waiting in actions.ContainersInBackOff) BackingOff(pod, waiting, result);
        if (actions.NextInitContainer is { } next)
        {
            await StartContainerAsync(pod, next, sandboxId, sandboxSpec, podIp, volumePaths, result, ct, slot.Dispose).ConfigureAwait(false);
            return result;
        }
        if (!actions.PruneDeadInstances) return result;

        foreach (var kill in actions.ContainersToKill)
        {
            _log.Info($"pod {name}: {kill.Message}{(kill.Detail is null ? "" : $": {kill.Detail}")}.");
            result.Changed = true;
            result.Stopped = true;
            await KillContainerAsync(pod, kill.Container, kill.Status, podIp, null, kill.Message, ct).ConfigureAwait(false);
        }
        await Task.WhenAll(actions.ContainersToStart.Select(start => StartContainerAsync(pod, start, sandboxId, sandboxSpec, podIp, volumePaths, result, ct, slot.Dispose))).ConfigureAwait(false);
        return result;
    }

    private bool EnsureCgroup(V1Pod pod, PodSyncResult result)
    {
        try
        {
            EnsurePodCgroup?.Invoke(pod);
            return true;
        }
        catch (KubeletException e)
        {
            var message = $"failed to ensure that the pod: {pod.Metadata.Uid} cgroups exist and are correctly applied: {e.Message}";
            _log.Warning($"pod {pod.Name()}: {message}");
            foreach (var (c, _) in PodRuntimeSpecs.AllContainers(pod)) result.Waiting[c.Name] = new ContainerWaiting("ContainerCreating", message);
            result.Retry(TimeSpan.FromSeconds(5));
            return false;
        }
    }

    /// <summary>The pod's volumes set up; null (with every container waiting in CreateContainerConfigError) when they cannot be.</summary>
    private IReadOnlyDictionary<string, string>? PrepareVolumes(V1Pod pod, PodSyncResult result)
    {
        try
        {
            return _volumes.Prepare(pod);
        }
        catch (Exception e) when (e is ContainerConfigException or IOException or UnauthorizedAccessException)
        {
            _log.Warning($"pod {pod.Name()}: cannot set up volumes: {e.Message}");
            // Identical messages at each retry add up in one Event's count (the recorder aggregates them).
            Events.Event(EventReferences.ForPod(pod), EventTypes.Warning, EventReasons.FailedMount, VolumeSetUpErrors.FailedMountMessage(e.Message));
            foreach (var (c, _) in PodRuntimeSpecs.AllContainers(pod)) result.Waiting[c.Name] = new ContainerWaiting("CreateContainerConfigError", e.Message);
            // As for a container whose env cannot be built: try again soon, the object may appear.
            result.Retry(TimeSpan.FromSeconds(10));
            return null;
        }
    }

    /// <summary>The pod's own seccomp profile (the sandbox's) must be usable, or no container can start either.</summary>
    private bool CheckPodSeccomp(V1Pod pod, PodSyncResult result)
    {
        try
        {
            PodSecurityContexts.Seccomp(pod, null, _specs.Security);
            return true;
        }
        catch (ContainerConfigException e)
        {
            _log.Warning($"pod {pod.Name()}: CreateContainerConfigError: {e.Message}");
            Events.Event(EventReferences.ForPod(pod), EventTypes.Warning, EventReasons.Failed, $"Error: {e.Message}");
            foreach (var (c, _) in PodRuntimeSpecs.AllContainers(pod)) result.Waiting[c.Name] = new ContainerWaiting("CreateContainerConfigError", e.Message);
            result.Retry(TimeSpan.FromSeconds(10));
            return false;
        }
    }

    /// <summary>A container left in its crash-loop back-off: kubelet's CrashLoopBackOff waiting reason, a BackOff event, and a sync when it ends.</summary>
    private void BackingOff(V1Pod pod, ContainerBackingOff waiting, PodSyncResult result)
    {
        var container = waiting.Container;
        var name = pod.Name();
        result.Waiting[container.Name] = new ContainerWaiting("CrashLoopBackOff", $"back-off {GoDuration.Format(waiting.Delay)} restarting failed container={container.Name} pod={name}_{pod.Namespace()}({pod.Metadata.Uid})");
        Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Warning, EventReasons.BackOff, $"Back-off restarting failed container {container.Name} in pod {name}_{pod.Namespace()}({pod.Metadata.Uid})");
        result.Retry(waiting.Remaining);
    }

    public static bool IsConnectionError(KubeletRuntimeException e) => e.Kind is RuntimeErrorKind.EndpointMissing or RuntimeErrorKind.ConnectionFailed or RuntimeErrorKind.Timeout;

    internal static string Short(string id) => id.Length > 13 ? id[..13] : id;
}
