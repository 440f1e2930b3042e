using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.Core.Tests.Support.Fakes;

/// <summary>
/// An in-memory CRI runtime service, as cri-api's fake_runtime_service.go: sandboxes and containers
/// with their states and timestamps (from <see cref="Time"/>), filters as CRI applies them, and the
/// call log, counters, injected errors and delays of <see cref="Calls"/>. Like containerd, stopping a
/// sandbox stops its containers and removing it removes them. A sandbox gets an IP (10.88.0.N) unless
/// it runs in the host network. Tests move containers on with <see cref="ExitContainer"/> and seed
/// runtime states with <see cref="AddSandbox"/> / <see cref="AddContainer"/>.
/// </summary>
public sealed partial class FakeRuntimeService(TimeProvider? time = null, FakeCriCalls? calls = null) : IRuntimeService
{
    private readonly object _state = new();
    private readonly Dictionary<string, FakeSandbox> _sandboxes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FakeContainer> _containers = new(StringComparer.Ordinal);
    private int _nextId;

    public sealed class FakeSandbox
    {
        public required string Id { get; init; }
        public required PodSandboxSpec Spec { get; init; }
        public PodSandboxState State { get; set; }
        public DateTimeOffset CreatedAt { get; set; }
        public string? Ip { get; set; }
    }

    public sealed class FakeContainer
    {
        public required string Id { get; init; }
        public required string SandboxId { get; init; }
        public required ContainerSpec Spec { get; init; }
        public ContainerState State { get; set; }
        public DateTimeOffset CreatedAt { get; set; }
        public DateTimeOffset? StartedAt { get; set; }
        public DateTimeOffset? FinishedAt { get; set; }
        public int ExitCode { get; set; }
        public string Reason { get; set; } = "";
    }

    public TimeProvider Time { get; } = time ?? TimeProvider.System;

    public FakeCriCalls Calls { get; } = calls ?? new FakeCriCalls();

    public string Endpoint => FakeCriCalls.Endpoint;

    public RuntimeOperationStats Operations => Calls.Operations;

    /// <summary>What Status reports; RuntimeReady and NetworkReady by default.</summary>
    public RuntimeStatusInfo Status { get; set; } = new(true, true,
        [new RuntimeConditionInfo("RuntimeReady", true, "", ""), new RuntimeConditionInfo("NetworkReady", true, "", "")]);

    /// <summary>What ExecSync answers (probes, hooks); exit code 0 by default.</summary>
    public Func<string, IReadOnlyList<string>, ExecSyncResult> Exec { get; set; } = (_, _) => new ExecSyncResult(0, "", "");

    public IReadOnlyList<FakeSandbox> Sandboxes
    {
        get { lock (_state) return [.. _sandboxes.Values.OrderBy(s => s.CreatedAt)]; }
    }

    public IReadOnlyList<FakeContainer> Containers
    {
        get { lock (_state) return [.. _containers.Values.OrderBy(c => c.CreatedAt)]; }
    }

    /// <summary>Seeds a sandbox as if a kubelet had run it before.</summary>
    public FakeSandbox AddSandbox(PodSandboxSpec spec, PodSandboxState state = PodSandboxState.Ready, string? ip = "auto")
    {
        lock (_state)
        {
            var sandbox = NewSandbox(spec);
            sandbox.State = state;
            if (ip != "auto") sandbox.Ip = ip;
            return sandbox;
        }
    }

    /// <summary>Seeds a container in a sandbox, in the state given (Exited ones with their exit code and finish time).</summary>
    public FakeContainer AddContainer(string sandboxId, ContainerSpec spec, ContainerState state, int exitCode = 0, DateTimeOffset? finishedAt = null)
    {
        lock (_state)
        {
            var container = NewContainer(sandboxId, spec);
            container.State = state;
            if (state is ContainerState.Running or ContainerState.Exited) container.StartedAt = container.CreatedAt;
            if (state == ContainerState.Exited)
            {
                container.ExitCode = exitCode;
                container.FinishedAt = finishedAt ?? Time.GetUtcNow();
            }
            return container;
        }
    }

    /// <summary>The container's process ends with <paramref name="exitCode"/>.</summary>
    public void ExitContainer(string containerId, int exitCode)
    {
        lock (_state)
        {
            var container = _containers[containerId];
            container.State = ContainerState.Exited;
            container.ExitCode = exitCode;
            container.Reason = exitCode == 0 ? "Completed" : "Error";
            container.FinishedAt = Time.GetUtcNow();
        }
    }

    public Task<RuntimeVersionInfo> VersionAsync(CancellationToken cancellationToken = default)
        => Calls.CallAsync("Version", _state, () => new RuntimeVersionInfo("fake", "0.1.0", "v1"), cancellationToken);

    public Task<RuntimeStatusInfo> StatusAsync(CancellationToken cancellationToken = default)
        => Calls.CallAsync("Status", _state, () => Status, cancellationToken);

    public Task<string> RunPodSandboxAsync(PodSandboxSpec spec, CancellationToken cancellationToken = default)
        => Calls.CallAsync("RunPodSandbox", _state, () => NewSandbox(spec).Id, cancellationToken);

    public Task StopPodSandboxAsync(string podSandboxId, CancellationToken cancellationToken = default)
        => Calls.CallAsync("StopPodSandbox", _state, () =>
        {
            var sandbox = FindSandbox("StopPodSandbox", podSandboxId);
            sandbox.State = PodSandboxState.NotReady;
            foreach (var c in _containers.Values.Where(c => c.SandboxId == podSandboxId && c.State is ContainerState.Running or ContainerState.Created)) Stop(c);
            return true;
        }, cancellationToken);

    public Task RemovePodSandboxAsync(string podSandboxId, CancellationToken cancellationToken = default)
        => Calls.CallAsync("RemovePodSandbox", _state, () =>
        {
            // CRI: removing a sandbox that is already gone is not an error.
            foreach (var c in _containers.Values.Where(c => c.SandboxId == podSandboxId).ToList()) _containers.Remove(c.Id);
            return _sandboxes.Remove(podSandboxId);
        }, cancellationToken);

    public Task<SandboxStatusInfo> PodSandboxStatusAsync(string podSandboxId, CancellationToken cancellationToken = default)
        => Calls.CallAsync("PodSandboxStatus", _state, () =>
        {
            var s = FindSandbox("PodSandboxStatus", podSandboxId);
            return new SandboxStatusInfo(s.Id, s.Spec.Name, s.Spec.Namespace, s.Spec.Uid, s.Spec.Attempt, s.State, s.CreatedAt, s.Ip, [], s.Spec.HostNetwork,
                s.Spec.Labels, s.Spec.Annotations, s.Spec.RuntimeHandler ?? "");
        }, cancellationToken);

    private int _listsOfOnePod;

    /// <summary>ListPodSandbox and ListContainers calls filtered to one pod's UID label (a per-pod read, not PLEG's relist of everything).</summary>
    public int ListsOfOnePod => Volatile.Read(ref _listsOfOnePod);

    private void CountListOfOnePod(IReadOnlyDictionary<string, string>? selector)
    {
        if (selector?.ContainsKey(KubeletLabels.PodUid) == true) Interlocked.Increment(ref _listsOfOnePod);
    }

    public Task<IReadOnlyList<PodSandboxInfo>> ListPodSandboxesAsync(PodSandboxFilter? filter = null, CancellationToken cancellationToken = default)
    {
        CountListOfOnePod(filter?.LabelSelector);
        return Calls.CallAsync<IReadOnlyList<PodSandboxInfo>>("ListPodSandbox", _state, () => _sandboxes.Values
            .Where(s => filter is null || ((filter.Id is null || s.Id == filter.Id) && (filter.State is null || s.State == filter.State) && Matches(s.Spec.Labels, filter.LabelSelector)))
            .OrderBy(s => s.CreatedAt).ThenBy(s => s.Id, StringComparer.Ordinal)
            .Select(s => new PodSandboxInfo(s.Id, s.Spec.Name, s.Spec.Namespace, s.Spec.Uid, s.Spec.Attempt, s.State, s.CreatedAt, s.Spec.Labels, s.Spec.Annotations, s.Spec.RuntimeHandler ?? ""))
            .ToList(), cancellationToken);
    }

    public Task<string> CreateContainerAsync(string podSandboxId, ContainerSpec spec, PodSandboxSpec sandboxSpec, CancellationToken cancellationToken = default)
        => Calls.CallAsync("CreateContainer", _state, () =>
        {
            var sandbox = FindSandbox("CreateContainer", podSandboxId);
            if (sandbox.State != PodSandboxState.Ready)
                throw FakeCriCalls.Error("CreateContainer", RuntimeErrorKind.RuntimeError, $"sandbox {podSandboxId} is not ready");
            return NewContainer(podSandboxId, spec).Id;
        }, cancellationToken);

    public Task StartContainerAsync(string containerId, CancellationToken cancellationToken = default)
        => Calls.CallAsync("StartContainer", _state, () =>
        {
            var c = FindContainer("StartContainer", containerId);
            if (c.State != ContainerState.Created)
                throw FakeCriCalls.Error("StartContainer", RuntimeErrorKind.RuntimeError, $"container {containerId} is in state {c.State}, not Created");
            c.State = ContainerState.Running;
            c.StartedAt = Time.GetUtcNow();
            return true;
        }, cancellationToken);

    public Task StopContainerAsync(string containerId, TimeSpan gracePeriod, CancellationToken cancellationToken = default)
        => Calls.CallAsync("StopContainer", _state, () =>
        {
            var c = FindContainer("StopContainer", containerId);
            if (c.State is ContainerState.Running or ContainerState.Created) Stop(c);
            return true;
        }, cancellationToken);

    public Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken = default)
        => Calls.CallAsync("RemoveContainer", _state, () => _containers.Remove(containerId), cancellationToken);

    public Task<IReadOnlyList<ContainerInfo>> ListContainersAsync(ContainerFilter? filter = null, CancellationToken cancellationToken = default)
    {
        CountListOfOnePod(filter?.LabelSelector);
        return Calls.CallAsync<IReadOnlyList<ContainerInfo>>("ListContainers", _state, () => _containers.Values
            .Where(c => filter is null || ((filter.Id is null || c.Id == filter.Id) && (filter.PodSandboxId is null || c.SandboxId == filter.PodSandboxId)
                && (filter.State is null || c.State == filter.State) && Matches(c.Spec.Labels, filter.LabelSelector)))
            .OrderBy(c => c.CreatedAt).ThenBy(c => c.Id, StringComparer.Ordinal)
            .Select(c => new ContainerInfo(c.Id, c.SandboxId, c.Spec.Name, c.Spec.Attempt, c.Spec.Image, c.Spec.Image, c.State, c.CreatedAt, c.Spec.Labels, c.Spec.Annotations))
            .ToList(), cancellationToken);
    }

    public Task<ContainerStatusInfo> ContainerStatusAsync(string containerId, CancellationToken cancellationToken = default)
        => Calls.CallAsync("ContainerStatus", _state, () =>
        {
            var c = FindContainer("ContainerStatus", containerId);
            var logDirectory = _sandboxes.TryGetValue(c.SandboxId, out var s) ? s.Spec.LogDirectory ?? "" : "";
            return new ContainerStatusInfo(c.Id, c.Spec.Name, c.Spec.Attempt, c.State, c.CreatedAt, c.StartedAt, c.FinishedAt, c.ExitCode, c.Reason, "",
                c.Spec.Image, c.Spec.Image, c.Spec.LogPath is null ? "" : Path.Combine(logDirectory, c.Spec.LogPath), c.Spec.Labels, c.Spec.Annotations);
        }, cancellationToken);

    public Task UpdateContainerResourcesAsync(string containerId, ContainerResourcesSpec resources, CancellationToken cancellationToken = default)
        => Calls.CallAsync("UpdateContainerResources", _state, () => FindContainer("UpdateContainerResources", containerId), cancellationToken);

    public Task ReopenContainerLogAsync(string containerId, CancellationToken cancellationToken = default)
        => Calls.CallAsync("ReopenContainerLog", _state, () =>
        {
            var c = FindContainer("ReopenContainerLog", containerId);
            OnReopenContainerLog?.Invoke(c);
            return c;
        }, cancellationToken);

    /// <summary>What ReopenContainerLog does besides recording the call (containerd creates the log file anew: tests create it here).</summary>
    public Action<FakeContainer>? OnReopenContainerLog { get; set; }

    public Task<ExecSyncResult> ExecSyncAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken = default)
        => Calls.CallAsync("ExecSync", _state, () =>
        {
            var c = FindContainer("ExecSync", containerId);
            if (c.State != ContainerState.Running)
                throw FakeCriCalls.Error("ExecSync", RuntimeErrorKind.RuntimeError, $"container {containerId} is not running");
            return Exec(containerId, command);
        }, cancellationToken);

    private FakeSandbox NewSandbox(PodSandboxSpec spec)
    {
        var id = NewId("sb");
        var sandbox = new FakeSandbox
        {
            Id = id,
            Spec = spec,
            State = PodSandboxState.Ready,
            CreatedAt = Time.GetUtcNow(),
            Ip = spec.HostNetwork ? null : $"10.88.0.{_sandboxes.Count + 2}",
        };
        _sandboxes[id] = sandbox;
        return sandbox;
    }

    private FakeContainer NewContainer(string sandboxId, ContainerSpec spec)
    {
        var container = new FakeContainer { Id = NewId("ctr"), SandboxId = sandboxId, Spec = spec, State = ContainerState.Created, CreatedAt = Time.GetUtcNow() };
        _containers[container.Id] = container;
        return container;
    }

    private void Stop(FakeContainer c)
    {
        if (c.State == ContainerState.Running)
        {
            c.ExitCode = 137;
            c.Reason = "Error";
        }
        c.State = ContainerState.Exited;
        c.FinishedAt = Time.GetUtcNow();
    }

    // Ids sort by creation, and the creation times of a fake clock may be equal: a counter keeps them apart.
    private string NewId(string prefix) => $"{prefix}{Interlocked.Increment(ref _nextId):D4}{new string('0', 60)}"[..64];

    private FakeSandbox FindSandbox(string operation, string id) => _sandboxes.TryGetValue(id, out var s) ? s
        : throw FakeCriCalls.Error(operation, RuntimeErrorKind.NotFound, $"an error occurred when try to find sandbox {id}: not found");

    private FakeContainer FindContainer(string operation, string id) => _containers.TryGetValue(id, out var c) ? c
        : throw FakeCriCalls.Error(operation, RuntimeErrorKind.NotFound, $"an error occurred when try to find container {id}: not found");

    private static bool Matches(IReadOnlyDictionary<string, string> labels, IReadOnlyDictionary<string, string>? selector)
        => selector is null || selector.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value);
}
