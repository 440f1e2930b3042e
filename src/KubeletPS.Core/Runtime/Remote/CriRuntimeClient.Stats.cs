namespace KubeletPS.Core.Runtime.Remote;

// CRI's stats calls: the containers' usage and a sandbox's verbose details.
public sealed partial class CriRuntimeClient
{
    /// <summary>Stats of the runtime's running containers (ListContainerStats), optionally of one sandbox.</summary>
    public async Task<IReadOnlyList<ContainerStatsInfo>> ListContainerStatsAsync(string? podSandboxId = null, CancellationToken cancellationToken = default)
    {
        var request = new Cri.ListContainerStatsRequest { Filter = new Cri.ContainerStatsFilter { PodSandboxId = podSandboxId ?? string.Empty } };
        var response = await CallAsync("ListContainerStats", o => _runtime.ListContainerStatsAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.Stats.Select(CriStatsMapping.FromCri).ToArray();
    }

    /// <summary>The runtime's verbose information about a sandbox (PodSandboxStatus with verbose=true).</summary>
    public async Task<SandboxRuntimeDetails> PodSandboxDetailsAsync(string podSandboxId, CancellationToken cancellationToken = default)
    {
        var request = new Cri.PodSandboxStatusRequest { PodSandboxId = podSandboxId, Verbose = true };
        var response = await CallAsync("PodSandboxStatus", o => _runtime.PodSandboxStatusAsync(request, o), cancellationToken).ConfigureAwait(false);
        return SandboxRuntimeDetails.FromVerboseInfo(new Dictionary<string, string>(response.Info));
    }
}
