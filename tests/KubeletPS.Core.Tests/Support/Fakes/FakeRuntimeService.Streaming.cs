using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Tests.Support.Fakes;

/// <summary>
/// The fake's runtime config, verbose info, streaming calls and stats (cri-api's fake_runtime_service.go: Exec, Attach and
/// PortForward answer a URL on a streaming server; ListContainerStats answers the stats the test set, of running containers).
/// </summary>
public sealed partial class FakeRuntimeService
{
    private readonly Dictionary<string, ContainerStatsInfo> _stats = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SandboxRuntimeDetails> _details = new(StringComparer.Ordinal);

    /// <summary>The streaming server the URLs point at (containerd's is on 127.0.0.1 at a random port).</summary>
    public Uri StreamingServer { get; set; } = new("http://127.0.0.1:10010/");

    /// <summary>What RuntimeConfig answers; null: as a runtime without the call (containerd 1.x).</summary>
    public string? CgroupDriver { get; set; } = "systemd";

    /// <summary>What Status with verbose answers.</summary>
    public IReadOnlyDictionary<string, string> StatusInfo { get; set; } = new Dictionary<string, string>();

    /// <summary>The streaming requests made, as "Exec ctr… sh -c date", "Attach ctr…", "PortForward sb… 80,443".</summary>
    public List<string> StreamingRequests { get; } = [];

    /// <summary>Sets what ListContainerStats reports for a container (while it runs).</summary>
    public void SetStats(ContainerStatsInfo stats)
    {
        lock (_state) _stats[stats.Id] = stats;
    }

    /// <summary>Sets what PodSandboxStatus with verbose reports for a sandbox (default: no pid, cgroup parent or log directory).</summary>
    public void SetDetails(string podSandboxId, SandboxRuntimeDetails details)
    {
        lock (_state) _details[podSandboxId] = details;
    }

    public Task<IReadOnlyDictionary<string, string>> StatusInfoAsync(CancellationToken cancellationToken = default)
        => Calls.CallAsync("Status", _state, () => StatusInfo, cancellationToken);

    public Task<string?> RuntimeCgroupDriverAsync(CancellationToken cancellationToken = default)
        => Calls.CallAsync("RuntimeConfig", _state, () => CgroupDriver, cancellationToken);

    public Task<Uri> ExecAsync(string containerId, IReadOnlyList<string> command, StreamingOptions streams, CancellationToken cancellationToken = default)
        => Calls.CallAsync("Exec", _state, () => Session("Exec", RunningContainer("Exec", containerId).Id + " " + string.Join(' ', command)), cancellationToken);

    public Task<Uri> AttachAsync(string containerId, StreamingOptions streams, CancellationToken cancellationToken = default)
        => Calls.CallAsync("Attach", _state, () => Session("Attach", RunningContainer("Attach", containerId).Id), cancellationToken);

    public Task<Uri> PortForwardAsync(string podSandboxId, IReadOnlyList<int> ports, CancellationToken cancellationToken = default)
        => Calls.CallAsync("PortForward", _state, () => Session("PortForward", FindSandbox("PortForward", podSandboxId).Id + " " + string.Join(',', ports)), cancellationToken);

    public Task<IReadOnlyList<ContainerStatsInfo>> ListContainerStatsAsync(string? podSandboxId = null, CancellationToken cancellationToken = default)
        => Calls.CallAsync<IReadOnlyList<ContainerStatsInfo>>("ListContainerStats", _state, () => _containers.Values
            .Where(c => c.State == ContainerState.Running && (string.IsNullOrEmpty(podSandboxId) || c.SandboxId == podSandboxId))
            .OrderBy(c => c.CreatedAt)
            .Select(c => _stats.GetValueOrDefault(c.Id) ?? new ContainerStatsInfo(c.Id, c.Spec.Name, c.Spec.Attempt, c.Spec.Labels, null, null, null))
            .ToList(), cancellationToken);

    public Task<SandboxRuntimeDetails> PodSandboxDetailsAsync(string podSandboxId, CancellationToken cancellationToken = default)
        => Calls.CallAsync("PodSandboxStatus", _state, () =>
        {
            var sandbox = FindSandbox("PodSandboxStatus", podSandboxId);
            return _details.GetValueOrDefault(podSandboxId) ?? new SandboxRuntimeDetails(null, "", "", sandbox.Spec.HostNetwork);
        }, cancellationToken);

    private FakeContainer RunningContainer(string operation, string containerId)
    {
        var c = FindContainer(operation, containerId);
        return c.State == ContainerState.Running ? c
            : throw FakeCriCalls.Error(operation, RuntimeErrorKind.RuntimeError, $"container {containerId} is not running");
    }

    private Uri Session(string operation, string request)
    {
        StreamingRequests.Add(operation + " " + request);
        return new Uri(StreamingServer, $"{operation.ToLowerInvariant()}/{StreamingRequests.Count}");
    }
}
