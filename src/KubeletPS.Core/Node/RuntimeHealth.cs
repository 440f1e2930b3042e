namespace KubeletPS.Core.Node;

/// <summary>What the node status needs from the container runtime (the CRI Version and Status calls).</summary>
public sealed record RuntimeHealth
{
    public bool Reachable { get; init; }
    public bool RuntimeReady { get; init; }
    public bool NetworkReady { get; init; }
    public string? RuntimeName { get; init; }
    public string? RuntimeVersion { get; init; }
    /// <summary>Why the runtime or its network is not ready, in kubelet's words.</summary>
    public string? Message { get; init; }

    /// <summary>kubelet's failed health checks (PLEG), each making the node not ready: "PLEG is not healthy: …".</summary>
    public IReadOnlyList<string> HealthCheckErrors { get; init; } = [];

    /// <summary>The images on the node (names: tags and digests; size in bytes), as status.images lists them.</summary>
    public IReadOnlyList<(IReadOnlyList<string> Names, long SizeBytes)>? Images { get; init; }

    public static RuntimeHealth Unreachable(string message) => new() { Reachable = false, Message = message };

    /// <summary>containerRuntimeVersion as the Node shows it, e.g. containerd://1.6.20.</summary>
    public string? ContainerRuntimeVersion =>
        RuntimeName is null ? null : $"{RuntimeName}://{RuntimeVersion}";
}

/// <summary>The seam between the node status and the container runtime.</summary>
public interface IRuntimeHealthSource
{
    Task<RuntimeHealth> GetHealthAsync(CancellationToken cancellationToken);
}
