using System.Globalization;
using k8s.Models;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Status;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.Inventory;

/// <summary>
/// The pods on this node as the container runtime has them, the way kubelet's runtime cache
/// (kuberuntime GetPods/GetPodStatus) sees them: sandboxes and containers joined by the
/// io.kubernetes.pod.uid label, the latest sandbox attempt per pod, the latest attempt per
/// container name. Sandboxes and containers without kubelet's labels are not ours and are skipped.
/// </summary>
/// <remarks>
/// Phase, container readiness and conditions come from the agent's status file
/// (<see cref="LocalPodStatusStore"/>) when it has written one: only the agent knows the spec
/// and the probe results. Without it the phase is derived from the containers alone, as
/// kubelet's getPhase would without a spec (restartPolicy unknown):
/// any app container running → Running; all app containers exited → Succeeded when every exit
/// code is 0, else Failed; some still waiting (created, not started) → Pending; only init
/// containers so far → Pending (Failed when one exited non-zero and the sandbox is stopped);
/// a sandbox not ready with containers not all exited → Unknown. A restartPolicy Always pod in
/// a crash loop therefore shows Failed where kubelet says Running. Readiness without a status
/// file: a running container counts as ready (no probe results are known).
/// </remarks>
public sealed class RuntimePodInventory
{
    private readonly IRuntimeService _runtime;
    private readonly LocalPodStatusStore? _statusStore;
    private readonly IKubeletLog _log;

    public RuntimePodInventory(IRuntimeService runtime, LocalPodStatusStore? statusStore = null, IKubeletLog? log = null)
    {
        _runtime = runtime ?? throw new ArgumentNullException(nameof(runtime));
        _statusStore = statusStore;
        _log = log ?? NullKubeletLog.Instance;
    }

    /// <summary>
    /// Lists the pods, oldest first. <paramref name="include"/> (namespace, name) picks pods before
    /// their containers' statuses are fetched. Throws <see cref="KubeletRuntimeException"/> when
    /// the socket is missing, nothing answers or the runtime is not ready.
    /// </summary>
    public async Task<IReadOnlyList<RuntimePod>> ListAsync(Func<string, string, bool>? include = null, CancellationToken cancellationToken = default)
    {
        await _runtime.EnsureReadyAsync(cancellationToken).ConfigureAwait(false);
        var (groups, skipped) = await RuntimePods.GetPodsAsync(_runtime, cancellationToken).ConfigureAwait(false);
        // A container is shown by its name: one without kubelet's container-name label is not one kubelet made.
        skipped += groups.Sum(g => g.Containers.Count(c => Label(c.Labels, KubeletLabels.ContainerName) is null));
        if (skipped > 0) _log.Debug($"Skipped {skipped} sandbox(es) and container(s) without kubelet's labels (not started by a kubelet).");

        var pods = new List<RuntimePod>();
        foreach (var group in groups)
        {
            var uid = group.Uid;
            var podSandboxes = group.Sandboxes.ToList();
            var podContainers = group.Containers.Where(c => Label(c.Labels, KubeletLabels.ContainerName) is not null).ToList();
            if (podSandboxes.Count == 0 && podContainers.Count == 0) continue;
            var latest = group.LatestSandbox;
            IReadOnlyDictionary<string, string> labels = latest?.Labels ?? podContainers[0].Labels;
            var name = Label(labels, KubeletLabels.PodName) ?? latest?.Name ?? "";
            var ns = Label(labels, KubeletLabels.PodNamespace) ?? latest?.Namespace ?? "";
            if (include is not null && !include(ns, name)) continue;
            var pod = await BuildAsync(uid, name, ns, latest, podSandboxes, podContainers, cancellationToken).ConfigureAwait(false);
            if (pod is not null) pods.Add(pod);
        }
        return pods.OrderBy(p => p.CreatedAt ?? DateTimeOffset.MaxValue).ThenBy(p => p.Namespace, StringComparer.Ordinal).ThenBy(p => p.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Finds the log file of one container, as kubectl logs chooses it. Throws
    /// <see cref="ContainerLogLookupException"/> naming the choices when the pod or container is
    /// not found or not named precisely enough.
    /// </summary>
    public async Task<ContainerLogSource> FindContainerLogAsync(ContainerLogQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var pods = await ListAsync((ns, name) => name == query.PodName && (query.Namespace is null || ns == query.Namespace), cancellationToken).ConfigureAwait(false);
        var where = query.Namespace is null ? "on this node" : $"in namespace \"{query.Namespace}\" on this node";
        if (pods.Count == 0)
        {
            throw new ContainerLogLookupException(ContainerLogLookupProblem.PodNotFound, $"pod \"{query.PodName}\" not found {where}", query.PodName);
        }
        var namespaces = pods.Select(p => p.Namespace).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (namespaces.Count > 1)
        {
            throw new ContainerLogLookupException(ContainerLogLookupProblem.PodAmbiguous,
                $"pods named \"{query.PodName}\" run in several namespaces: [{string.Join(" ", namespaces)}]; name one with -Namespace", query.PodName, namespaces);
        }
        // The same name twice in one namespace: a replaced static pod still being torn down. The newest is the one meant.
        var pod = pods.OrderBy(p => p.SandboxState == PodSandboxState.Ready ? 0 : 1).ThenByDescending(p => p.CreatedAt).First();

        var container = SelectContainer(pod, query.ContainerName);
        if (!query.Previous)
        {
            return new ContainerLogSource(pod.Name, pod.Namespace, pod.Uid, container.Name, container.ContainerId, container.Attempt, container.State, container.LogPath);
        }

        var previous = await FindPreviousAsync(pod, container, cancellationToken).ConfigureAwait(false);
        return previous ?? throw new ContainerLogLookupException(ContainerLogLookupProblem.PreviousNotFound,
            $"previous terminated container \"{container.Name}\" in pod \"{pod.Name}\" not found", $"{pod.Namespace}/{pod.Name}/{container.Name}");
    }

    private static RuntimePodContainer SelectContainer(RuntimePod pod, string? containerName)
    {
        var app = pod.AppContainers.Select(c => c.Name).ToList();
        var init = pod.Containers.Where(c => c.IsInit).Select(c => c.Name).ToList();
        string Choices() => $"choose one of: [{string.Join(" ", app)}]" + (init.Count > 0 ? $" or one of the init containers: [{string.Join(" ", init)}]" : "");
        if (containerName is null)
        {
            if (app.Count == 1) return pod.AppContainers.Single();
            if (app.Count == 0 && init.Count == 1) return pod.Containers.Single();
            if (pod.Containers.Count == 0)
            {
                throw new ContainerLogLookupException(ContainerLogLookupProblem.ContainerNotFound,
                    $"pod \"{pod.Name}\" has no containers yet", $"{pod.Namespace}/{pod.Name}");
            }
            throw new ContainerLogLookupException(ContainerLogLookupProblem.ContainerNameRequired,
                $"a container name must be specified for pod {pod.Name}, {Choices()}", $"{pod.Namespace}/{pod.Name}", [.. app, .. init]);
        }
        return pod.Containers.FirstOrDefault(c => c.Name == containerName)
            ?? throw new ContainerLogLookupException(ContainerLogLookupProblem.ContainerNotFound,
                $"container \"{containerName}\" is not valid for pod \"{pod.Name}\", {Choices()}", $"{pod.Namespace}/{pod.Name}/{containerName}", [.. app, .. init]);
    }

    /// <summary>
    /// The attempt before the current one: the runtime's dead container when kubelet kept it,
    /// else its log file (NAME/ATTEMPT.log, one less than the current file's number).
    /// </summary>
    private async Task<ContainerLogSource?> FindPreviousAsync(RuntimePod pod, RuntimePodContainer current, CancellationToken cancellationToken)
    {
        var attempts = await _runtime.ListContainersAsync(new ContainerFilter
        {
            LabelSelector = new Dictionary<string, string> { [KubeletLabels.PodUid] = pod.Uid, [KubeletLabels.ContainerName] = current.Name },
        }, cancellationToken).ConfigureAwait(false);
        var older = attempts.Where(c => c.Id != current.ContainerId && (c.Attempt < current.Attempt || (c.Attempt == current.Attempt && c.CreatedAt < current.CreatedAt)))
            .OrderByDescending(c => c.Attempt).ThenByDescending(c => c.CreatedAt).FirstOrDefault();
        if (older is not null)
        {
            try
            {
                var status = await _runtime.ContainerStatusAsync(older.Id, cancellationToken).ConfigureAwait(false);
                if (status.LogPath.Length > 0 && File.Exists(status.LogPath))
                {
                    return new ContainerLogSource(pod.Name, pod.Namespace, pod.Uid, current.Name, older.Id, older.Attempt, MapState(status.State), status.LogPath);
                }
            }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound)
            {
                // Removed since the list: fall back to the file.
            }
        }

        if (current.LogPath.Length > 0
            && uint.TryParse(Path.GetFileNameWithoutExtension(current.LogPath), NumberStyles.None, CultureInfo.InvariantCulture, out var number)
            && number > 0)
        {
            var file = Path.Combine(Path.GetDirectoryName(current.LogPath)!, $"{number - 1}.log");
            if (File.Exists(file))
            {
                return new ContainerLogSource(pod.Name, pod.Namespace, pod.Uid, current.Name, older?.Id ?? "", number - 1, PodContainerState.Exited, file);
            }
        }
        return null;
    }

    private async Task<RuntimePod?> BuildAsync(string uid, string name, string ns, PodSandboxInfo? latest,
        List<PodSandboxInfo> sandboxes, List<ContainerInfo> containers, CancellationToken cancellationToken)
    {
        var agentPod = _statusStore?.Load(uid);
        if (agentPod is not null) _log.Debug($"Pod {ns}/{name} ({uid}): phase and readiness from the agent's status file.");

        string? ip = null;
        var sandboxState = latest?.State;
        if (latest is not null)
        {
            try
            {
                var status = await _runtime.PodSandboxStatusAsync(latest.Id, cancellationToken).ConfigureAwait(false);
                ip = status.Ip;
                sandboxState = status.State;
            }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound)
            {
                _log.Debug($"Sandbox {latest.Id} of pod {ns}/{name} went away while listing.");
            }
        }

        var initNames = new HashSet<string>(agentPod?.Spec?.InitContainers?.Select(c => c.Name) ?? [], StringComparer.Ordinal);
        var agentStatuses = (agentPod?.Status?.ContainerStatuses ?? []).Concat(agentPod?.Status?.InitContainerStatuses ?? [])
            .GroupBy(s => s.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);

        var result = new List<RuntimePodContainer>();
        foreach (var byName in containers.GroupBy(c => Label(c.Labels, KubeletLabels.ContainerName)!, StringComparer.Ordinal))
        {
            var container = byName.OrderByDescending(c => c.Attempt).ThenByDescending(c => c.CreatedAt).First();
            ContainerStatusInfo? status = null;
            try
            {
                status = await _runtime.ContainerStatusAsync(container.Id, cancellationToken).ConfigureAwait(false);
            }
            catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound)
            {
                _log.Debug($"Container {container.Id} of pod {ns}/{name} went away while listing.");
            }
            var isInit = initNames.Contains(byName.Key)
                || string.Equals(Label(container.Annotations, KubeletLabels.ContainerType), "init", StringComparison.OrdinalIgnoreCase);
            result.Add(ToContainer(byName.Key, container, status, isInit, agentPod is not null, agentStatuses.GetValueOrDefault(byName.Key)));
        }
        // Init containers first, then app containers in the spec's order when known (else by name), as kubectl lists them.
        var order = (agentPod?.Spec?.InitContainers ?? []).Select(c => c.Name).Concat((agentPod?.Spec?.Containers ?? []).Select(c => c.Name)).ToList();
        result = result.OrderBy(c => c.IsInit ? 0 : 1)
            .ThenBy(c => order.IndexOf(c.Name) is var i and >= 0 ? i : int.MaxValue)
            .ThenBy(c => c.Name, StringComparer.Ordinal).ToList();

        var phase = agentPod?.Status?.Phase is { Length: > 0 } agentPhase ? agentPhase : DerivePhase(sandboxState, result);
        var conditions = (agentPod?.Status?.Conditions ?? [])
            .Select(c => new RuntimePodCondition(c.Type, c.Status, c.Reason, c.Message, ToOffset(c.LastTransitionTime)))
            .ToList();
        var createdAt = sandboxes.Select(s => s.CreatedAt).Concat(containers.Select(c => c.CreatedAt)).Where(t => t is not null).Min();
        if (string.IsNullOrEmpty(ip)) ip = agentPod?.Status?.PodIP;
        var podStatus = DisplayStatus(phase, agentPod?.Status?.Reason, result, conditions, agentPod is not null);
        return new RuntimePod(name, ns, uid, phase, podStatus, string.IsNullOrEmpty(ip) ? null : ip, latest?.Id, sandboxState,
            latest?.Attempt ?? 0, createdAt, agentPod is not null, result, conditions,
            agentPod?.Status?.QosClass is { Length: > 0 } qos ? qos : agentPod?.Spec is null ? null : PodRuntimeSpecs.QosClass(agentPod));
    }

    private static RuntimePodContainer ToContainer(string name, ContainerInfo listed, ContainerStatusInfo? status, bool isInit,
        bool hasAgentStatus, V1ContainerStatus? agentStatus)
    {
        var state = MapState(status?.State ?? listed.State);
        var reason = string.IsNullOrEmpty(status?.Reason) ? null : status.Reason;
        var message = string.IsNullOrEmpty(status?.Message) ? null : status.Message;
        if (state == PodContainerState.Waiting) reason ??= "ContainerCreating";
        // Between restarts the agent knows what the runtime does not: the back-off (CrashLoopBackOff).
        if (state != PodContainerState.Running && agentStatus?.State?.Waiting is { Reason: { Length: > 0 } waitingReason } waiting)
        {
            state = PodContainerState.Waiting;
            reason = waitingReason;
            message = string.IsNullOrEmpty(waiting.Message) ? message : waiting.Message;
        }
        var annotations = status?.Annotations ?? listed.Annotations;
        var restarts = int.TryParse(Label(annotations, KubeletLabels.ContainerRestartCount), NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            ? count : (int)listed.Attempt;
        // Only a running container can be ready; the agent's status may lag behind an exit.
        var ready = state == PodContainerState.Running && (!hasAgentStatus || agentStatus?.Ready == true);
        var exited = (status?.State ?? listed.State) == ContainerState.Exited;
        return new RuntimePodContainer(
            name,
            listed.Id,
            listed.Attempt,
            state,
            reason,
            message,
            exited ? status?.ExitCode : null,
            status?.CreatedAt ?? listed.CreatedAt,
            status?.StartedAt,
            exited ? status?.FinishedAt : null,
            restarts,
            ready,
            status?.Image is { Length: > 0 } image ? image : listed.Image,
            status?.ImageRef is { Length: > 0 } imageRef ? imageRef : listed.ImageRef,
            status?.LogPath ?? "",
            isInit);
    }

    private static PodContainerState MapState(ContainerState state) => state switch
    {
        ContainerState.Created => PodContainerState.Waiting,
        ContainerState.Running => PodContainerState.Running,
        ContainerState.Exited => PodContainerState.Exited,
        _ => PodContainerState.Unknown,
    };

    /// <summary>The phase from the runtime alone; see the class remarks for the approximations.</summary>
    internal static string DerivePhase(PodSandboxState? sandbox, IReadOnlyList<RuntimePodContainer> containers)
    {
        var app = containers.Where(c => !c.IsInit).ToList();
        var init = containers.Where(c => c.IsInit).ToList();
        var sandboxReady = sandbox == PodSandboxState.Ready;
        if (app.Any(c => c.State == PodContainerState.Running)) return "Running";
        if (app.Count == 0)
        {
            if (!sandboxReady && init.Any(c => c.State == PodContainerState.Exited && c.ExitCode is not 0) && !init.Any(c => c.State == PodContainerState.Running)) return "Failed";
            return sandboxReady ? "Pending" : "Unknown";
        }
        if (app.All(c => c.State == PodContainerState.Exited)) return app.All(c => c.ExitCode == 0) ? "Succeeded" : "Failed";
        return sandboxReady ? "Pending" : "Unknown";
    }

    /// <summary>kubectl get pods' STATUS column (printPod): the phase, or the reason that says more.</summary>
    internal static string DisplayStatus(string phase, string? podReason, IReadOnlyList<RuntimePodContainer> containers,
        IReadOnlyList<RuntimePodCondition> conditions, bool hasAgentStatus)
    {
        var reason = string.IsNullOrEmpty(podReason) ? phase : podReason;
        var init = containers.Where(c => c.IsInit).ToList();
        for (var i = 0; i < init.Count; i++)
        {
            var c = init[i];
            if (c.State == PodContainerState.Exited && c.ExitCode == 0) continue;
            if (c.State == PodContainerState.Exited) return "Init:" + (c.Reason ?? $"ExitCode:{c.ExitCode}");
            if (c.State == PodContainerState.Waiting && c.Reason is { Length: > 0 } r && r != "PodInitializing" && r != "ContainerCreating") return "Init:" + r;
            return $"Init:{i}/{init.Count}";
        }
        var hasRunning = false;
        foreach (var c in containers.Where(c => !c.IsInit).Reverse())
        {
            if (c.State == PodContainerState.Waiting && c.Reason is { Length: > 0 }) reason = c.Reason;
            else if (c.State == PodContainerState.Exited) reason = c.Reason ?? $"ExitCode:{c.ExitCode}";
            else if (c.Ready && c.State == PodContainerState.Running) hasRunning = true;
        }
        if (reason == "Completed" && hasRunning)
        {
            var podReady = !hasAgentStatus || conditions.Any(c => c.Type == "Ready" && c.Status == "True");
            reason = podReady ? "Running" : "NotReady";
        }
        return reason;
    }

    private static string? Label(IReadOnlyDictionary<string, string> labels, string key)
        => labels.TryGetValue(key, out var value) && value.Length > 0 ? value : null;

    private static DateTimeOffset? ToOffset(DateTime? time)
        => time is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, t.Kind == DateTimeKind.Unspecified ? DateTimeKind.Utc : t.Kind)) : null;
}
