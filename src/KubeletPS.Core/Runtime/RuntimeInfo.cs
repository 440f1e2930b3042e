namespace KubeletPS.Core.Runtime;

public sealed record RuntimeVersionInfo(string RuntimeName, string RuntimeVersion, string RuntimeApiVersion);

public sealed record RuntimeConditionInfo(string Type, bool Status, string Reason, string Message);

/// <summary>The runtime's Status conditions; the node is ready only when both required ones are true.</summary>
public sealed record RuntimeStatusInfo(bool RuntimeReady, bool NetworkReady, IReadOnlyList<RuntimeConditionInfo> Conditions)
{
    public RuntimeConditionInfo? Find(string type) => Conditions.FirstOrDefault(c => c.Type == type);

    /// <summary>The runtime reports the supplemental_groups_policy feature (supplementalGroupsPolicy Strict).</summary>
    public bool SupplementalGroupsPolicySupported { get; init; }
}

public enum PodSandboxState
{
    Ready = 0,
    NotReady = 1,
}

public enum ContainerState
{
    Created = 0,
    Running = 1,
    Exited = 2,
    Unknown = 3,
}

/// <summary>A sandbox as ListPodSandbox returns it.</summary>
public sealed record PodSandboxInfo(
    string Id,
    string Name,
    string Namespace,
    string Uid,
    uint Attempt,
    PodSandboxState State,
    DateTimeOffset? CreatedAt,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyDictionary<string, string> Annotations,
    string RuntimeHandler);

/// <summary>A sandbox as PodSandboxStatus returns it, with its network.</summary>
public sealed record SandboxStatusInfo(
    string Id,
    string Name,
    string Namespace,
    string Uid,
    uint Attempt,
    PodSandboxState State,
    DateTimeOffset? CreatedAt,
    string? Ip,
    IReadOnlyList<string> AdditionalIps,
    bool HostNetwork,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyDictionary<string, string> Annotations,
    string RuntimeHandler);

/// <summary>A container as ListContainers returns it.</summary>
public sealed record ContainerInfo(
    string Id,
    string PodSandboxId,
    string Name,
    uint Attempt,
    string Image,
    string ImageRef,
    ContainerState State,
    DateTimeOffset? CreatedAt,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyDictionary<string, string> Annotations);

/// <summary>A container as ContainerStatus returns it.</summary>
public sealed record ContainerStatusInfo(
    string Id,
    string Name,
    uint Attempt,
    ContainerState State,
    DateTimeOffset? CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    int ExitCode,
    string Reason,
    string Message,
    string Image,
    string ImageRef,
    string LogPath,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyDictionary<string, string> Annotations);

public sealed record ExecSyncResult(int ExitCode, string Stdout, string Stderr);

public sealed record ImageInfo(
    string Id,
    IReadOnlyList<string> RepoTags,
    IReadOnlyList<string> RepoDigests,
    ulong Size,
    long? Uid,
    string Username,
    bool Pinned);

public sealed record ImageFilesystemInfo(string Mountpoint, ulong UsedBytes, ulong InodesUsed, DateTimeOffset? Timestamp);

/// <summary>ListPodSandbox filter; all set fields are ANDed.</summary>
public sealed record PodSandboxFilter
{
    public string? Id { get; init; }
    public PodSandboxState? State { get; init; }
    public IReadOnlyDictionary<string, string>? LabelSelector { get; init; }
}

/// <summary>ListContainers filter; all set fields are ANDed.</summary>
public sealed record ContainerFilter
{
    public string? Id { get; init; }
    public string? PodSandboxId { get; init; }
    public ContainerState? State { get; init; }
    public IReadOnlyDictionary<string, string>? LabelSelector { get; init; }
}

/// <summary>
/// CRI's AuthConfig for one PullImage: the credentials kubelet's keyring found for the image's registry.
/// <see cref="ToString"/> names the user and server only, so a log or exception never carries a password or token.
/// </summary>
public sealed class RegistryAuth(string username = "", string password = "", string auth = "", string serverAddress = "", string identityToken = "", string registryToken = "")
{
    public string Username { get; } = username;
    public string Password { get; } = password;
    public string Auth { get; } = auth;
    public string ServerAddress { get; } = serverAddress;
    public string IdentityToken { get; } = identityToken;
    public string RegistryToken { get; } = registryToken;

    public override string ToString() => $"registry credentials for user \"{Username}\"{(ServerAddress.Length > 0 ? $" at {ServerAddress}" : "")}";
}
