using System.Text;
using Grpc.Core;

namespace KubeletPS.Core.Runtime.Remote;

// CRI's RuntimeService: version and status, pod sandboxes, containers, ExecSync (kubelet's remote_runtime.go).
public sealed partial class CriRuntimeClient
{
    public async Task<RuntimeVersionInfo> VersionAsync(CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("Version", o => _runtime.VersionAsync(new Cri.VersionRequest { Version = KubeletApiVersion }, o), cancellationToken).ConfigureAwait(false);
        return new RuntimeVersionInfo(response.RuntimeName, response.RuntimeVersion, response.RuntimeApiVersion);
    }

    public async Task<RuntimeStatusInfo> StatusAsync(CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("Status", o => _runtime.StatusAsync(new Cri.StatusRequest(), o), cancellationToken).ConfigureAwait(false);
        return CriMapping.FromCri(response.Status) with { SupplementalGroupsPolicySupported = response.Features?.SupplementalGroupsPolicy == true };
    }

    /// <summary>Status with verbose: the runtime's own information (containerd: "config", its CRI plugin configuration as JSON).</summary>
    public async Task<IReadOnlyDictionary<string, string>> StatusInfoAsync(CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("Status", o => _runtime.StatusAsync(new Cri.StatusRequest { Verbose = true }, o), cancellationToken).ConfigureAwait(false);
        return response.Info.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
    }

    /// <summary>
    /// The cgroup driver the runtime reports through RuntimeConfig ("systemd" or "cgroupfs"), as
    /// kubelet asks it at start; null when the runtime does not implement the call (containerd 1.x).
    /// </summary>
    public async Task<string?> RuntimeCgroupDriverAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var response = await CallAsync("RuntimeConfig", o => _runtime.RuntimeConfigAsync(new Cri.RuntimeConfigRequest(), o), cancellationToken).ConfigureAwait(false);
            if (response.Linux is null) return null;
            return response.Linux.CgroupDriver == Cri.CgroupDriver.Systemd ? "systemd" : "cgroupfs";
        }
        catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.Unimplemented)
        {
            return null;
        }
    }

    // ---- Pod sandboxes ----

    /// <summary>Creates and starts a pod sandbox; returns its id.</summary>
    public async Task<string> RunPodSandboxAsync(PodSandboxSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var request = new Cri.RunPodSandboxRequest { Config = CriMapping.ToCri(spec), RuntimeHandler = spec.RuntimeHandler ?? string.Empty };
        var response = await CallAsync("RunPodSandbox", o => _runtime.RunPodSandboxAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.PodSandboxId;
    }

    public Task StopPodSandboxAsync(string podSandboxId, CancellationToken cancellationToken = default)
        => CallAsync("StopPodSandbox", o => _runtime.StopPodSandboxAsync(new Cri.StopPodSandboxRequest { PodSandboxId = podSandboxId }, o), cancellationToken);

    public Task RemovePodSandboxAsync(string podSandboxId, CancellationToken cancellationToken = default)
        => CallAsync("RemovePodSandbox", o => _runtime.RemovePodSandboxAsync(new Cri.RemovePodSandboxRequest { PodSandboxId = podSandboxId }, o), cancellationToken);

    public async Task<SandboxStatusInfo> PodSandboxStatusAsync(string podSandboxId, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("PodSandboxStatus", o => _runtime.PodSandboxStatusAsync(new Cri.PodSandboxStatusRequest { PodSandboxId = podSandboxId }, o), cancellationToken).ConfigureAwait(false);
        return CriMapping.FromCri(response.Status);
    }

    public async Task<IReadOnlyList<PodSandboxInfo>> ListPodSandboxesAsync(PodSandboxFilter? filter = null, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("ListPodSandbox", o => _runtime.ListPodSandboxAsync(new Cri.ListPodSandboxRequest { Filter = CriMapping.ToCri(filter) }, o), cancellationToken).ConfigureAwait(false);
        return response.Items.Select(CriMapping.FromCri).ToArray();
    }

    // ---- Containers ----

    /// <summary>Creates a container in a sandbox. The sandbox spec is the one the sandbox was run with.</summary>
    public async Task<string> CreateContainerAsync(string podSandboxId, ContainerSpec spec, PodSandboxSpec sandboxSpec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(sandboxSpec);
        var request = new Cri.CreateContainerRequest
        {
            PodSandboxId = podSandboxId,
            Config = CriMapping.ToCri(spec, sandboxSpec),
            SandboxConfig = CriMapping.ToCri(sandboxSpec),
        };
        var response = await CallAsync("CreateContainer", o => _runtime.CreateContainerAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.ContainerId;
    }

    public Task StartContainerAsync(string containerId, CancellationToken cancellationToken = default)
        => CallAsync("StartContainer", o => _runtime.StartContainerAsync(new Cri.StartContainerRequest { ContainerId = containerId }, o), cancellationToken);

    /// <summary>Stops a container: the stop signal, then SIGKILL after <paramref name="gracePeriod"/>.</summary>
    public Task StopContainerAsync(string containerId, TimeSpan gracePeriod, CancellationToken cancellationToken = default)
    {
        var seconds = (long)Math.Ceiling(Math.Max(0, gracePeriod.TotalSeconds));
        // The runtime waits the grace period inside the call, so the deadline must cover it.
        return CallAsync("StopContainer", o => _runtime.StopContainerAsync(new Cri.StopContainerRequest { ContainerId = containerId, Timeout = seconds }, o), cancellationToken, TimeSpan.FromSeconds(seconds));
    }

    public Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken = default)
        => CallAsync("RemoveContainer", o => _runtime.RemoveContainerAsync(new Cri.RemoveContainerRequest { ContainerId = containerId }, o), cancellationToken);

    public async Task<IReadOnlyList<ContainerInfo>> ListContainersAsync(ContainerFilter? filter = null, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("ListContainers", o => _runtime.ListContainersAsync(new Cri.ListContainersRequest { Filter = CriMapping.ToCri(filter) }, o), cancellationToken).ConfigureAwait(false);
        return response.Containers.Select(CriMapping.FromCri).ToArray();
    }

    public async Task<ContainerStatusInfo> ContainerStatusAsync(string containerId, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("ContainerStatus", o => _runtime.ContainerStatusAsync(new Cri.ContainerStatusRequest { ContainerId = containerId }, o), cancellationToken).ConfigureAwait(false);
        return CriMapping.FromCri(response.Status);
    }

    public Task UpdateContainerResourcesAsync(string containerId, ContainerResourcesSpec resources, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resources);
        var request = new Cri.UpdateContainerResourcesRequest { ContainerId = containerId, Linux = CriMapping.ToCri(resources) };
        return CallAsync("UpdateContainerResources", o => _runtime.UpdateContainerResourcesAsync(request, o), cancellationToken);
    }

    /// <summary>Asks the runtime to reopen the container's log file (after the kubelet rotated it).</summary>
    public Task ReopenContainerLogAsync(string containerId, CancellationToken cancellationToken = default)
        => CallAsync("ReopenContainerLog", o => _runtime.ReopenContainerLogAsync(new Cri.ReopenContainerLogRequest { ContainerId = containerId }, o), cancellationToken);

    /// <summary>Runs a command in a container and waits for it (probes, kubectl exec without a TTY).</summary>
    /// <param name="timeout">How long the command may run; <see cref="TimeSpan.Zero"/> means no limit.</param>
    public async Task<ExecSyncResult> ExecSyncAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var seconds = (long)Math.Ceiling(Math.Max(0, timeout.TotalSeconds));
        var request = new Cri.ExecSyncRequest { ContainerId = containerId, Timeout = seconds };
        request.Cmd.AddRange(command);
        Cri.ExecSyncResponse response;
        try
        {
            response = await CallAsync("ExecSync", o => _runtime.ExecSyncAsync(request, o), cancellationToken, TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
        }
        catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.Timeout && seconds > 0)
        {
            // The runtime ends the command at its timeout and answers DeadlineExceeded ("timeout 1s exceeded"), well before our deadline.
            throw new KubeletRuntimeException(Endpoint, "ExecSync", RuntimeErrorKind.Timeout,
                $"container runtime endpoint {Endpoint}: ExecSync in container {containerId}: command timed out after {seconds}s ({(e.InnerException as RpcException)?.Status.Detail})", e.RpcStatus, e);
        }
        return new ExecSyncResult(response.ExitCode, Encoding.UTF8.GetString(response.Stdout.Span), Encoding.UTF8.GetString(response.Stderr.Span));
    }
}
