using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.Core.Runtime;

/// <summary>
/// CRI's runtime service as the pod engine uses it (kubelet's <c>internalapi.RuntimeService</c> in
/// cri-api's services.go): version, status and runtime config, pod sandboxes, containers, ExecSync,
/// the streaming calls (Exec, Attach, PortForward) and container stats.
/// <see cref="CriRuntimeClient"/> is the implementation over gRPC; the tests use an in-memory fake.
/// Failures are <see cref="KubeletRuntimeException"/>s, whose <see cref="RuntimeErrorKind"/> the engine acts on.
/// </summary>
public interface IRuntimeService
{
    /// <summary>Where the runtime is reached, for messages (<c>unix:///path</c>).</summary>
    string Endpoint { get; }

    /// <summary>Calls made through this service per CRI operation (kubelet's runtime_operations_total and _duration_seconds).</summary>
    RuntimeOperationStats Operations { get; }

    Task<RuntimeVersionInfo> VersionAsync(CancellationToken cancellationToken = default);

    Task<RuntimeStatusInfo> StatusAsync(CancellationToken cancellationToken = default);

    /// <summary>Creates and starts a pod sandbox; returns its id.</summary>
    Task<string> RunPodSandboxAsync(PodSandboxSpec spec, CancellationToken cancellationToken = default);

    Task StopPodSandboxAsync(string podSandboxId, CancellationToken cancellationToken = default);

    Task RemovePodSandboxAsync(string podSandboxId, CancellationToken cancellationToken = default);

    Task<SandboxStatusInfo> PodSandboxStatusAsync(string podSandboxId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<PodSandboxInfo>> ListPodSandboxesAsync(PodSandboxFilter? filter = null, CancellationToken cancellationToken = default);

    /// <summary>Creates a container in a sandbox. The sandbox spec is the one the sandbox was run with.</summary>
    Task<string> CreateContainerAsync(string podSandboxId, ContainerSpec spec, PodSandboxSpec sandboxSpec, CancellationToken cancellationToken = default);

    Task StartContainerAsync(string containerId, CancellationToken cancellationToken = default);

    /// <summary>Stops a container: the stop signal, then SIGKILL after <paramref name="gracePeriod"/>.</summary>
    Task StopContainerAsync(string containerId, TimeSpan gracePeriod, CancellationToken cancellationToken = default);

    Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<ContainerInfo>> ListContainersAsync(ContainerFilter? filter = null, CancellationToken cancellationToken = default);

    Task<ContainerStatusInfo> ContainerStatusAsync(string containerId, CancellationToken cancellationToken = default);

    Task UpdateContainerResourcesAsync(string containerId, ContainerResourcesSpec resources, CancellationToken cancellationToken = default);

    /// <summary>Asks the runtime to reopen the container's log file (after the kubelet rotated it).</summary>
    Task ReopenContainerLogAsync(string containerId, CancellationToken cancellationToken = default);

    /// <summary>Runs a command in a container and waits for it (probes, exec without a TTY).</summary>
    /// <param name="containerId">The container.</param>
    /// <param name="command">The command and its arguments.</param>
    /// <param name="timeout">How long the command may run; <see cref="TimeSpan.Zero"/> means no limit.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    Task<ExecSyncResult> ExecSyncAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>Status with verbose: the runtime's own information (containerd: "config", its CRI plugin configuration as JSON).</summary>
    Task<IReadOnlyDictionary<string, string>> StatusInfoAsync(CancellationToken cancellationToken = default);

    /// <summary>The cgroup driver from RuntimeConfig ("systemd" or "cgroupfs"); null when the runtime does not implement the call.</summary>
    Task<string?> RuntimeCgroupDriverAsync(CancellationToken cancellationToken = default);

    /// <summary>Prepares an exec session; returns the URL on the runtime's streaming server to proxy the client to.</summary>
    Task<Uri> ExecAsync(string containerId, IReadOnlyList<string> command, StreamingOptions streams, CancellationToken cancellationToken = default);

    /// <summary>Prepares an attach session to the container's main process; returns its streaming URL.</summary>
    Task<Uri> AttachAsync(string containerId, StreamingOptions streams, CancellationToken cancellationToken = default);

    /// <summary>Prepares a port forward into the sandbox's network namespace; returns its streaming URL.</summary>
    Task<Uri> PortForwardAsync(string podSandboxId, IReadOnlyList<int> ports, CancellationToken cancellationToken = default);

    /// <summary>Stats of the running containers (ListContainerStats), optionally of one sandbox.</summary>
    Task<IReadOnlyList<ContainerStatsInfo>> ListContainerStatsAsync(string? podSandboxId = null, CancellationToken cancellationToken = default);

    /// <summary>The runtime's verbose information about a sandbox (PodSandboxStatus with verbose=true): pid, cgroup parent, log directory.</summary>
    Task<SandboxRuntimeDetails> PodSandboxDetailsAsync(string podSandboxId, CancellationToken cancellationToken = default);
}

/// <summary>What the engine builds on <see cref="IRuntimeService"/> without another CRI operation.</summary>
public static class RuntimeServiceExtensions
{
    /// <summary>Calls Status and throws <see cref="RuntimeErrorKind.RuntimeNotReady"/> unless RuntimeReady is true.</summary>
    public static async Task<RuntimeStatusInfo> EnsureReadyAsync(this IRuntimeService runtime, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var status = await runtime.StatusAsync(cancellationToken).ConfigureAwait(false);
        if (!status.RuntimeReady)
        {
            var condition = status.Find("RuntimeReady");
            var detail = condition is null ? "no RuntimeReady condition reported" : $"RuntimeReady=false reason={condition.Reason} message={condition.Message}";
            throw new KubeletRuntimeException(runtime.Endpoint, "Status", RuntimeErrorKind.RuntimeNotReady, $"container runtime endpoint {runtime.Endpoint}: runtime not ready: {detail}");
        }

        return status;
    }
}
