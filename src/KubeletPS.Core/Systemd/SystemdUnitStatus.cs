namespace KubeletPS.Core.Systemd;

/// <summary>
/// One unit as systemctl show reports it (the properties of org.freedesktop.systemd1.Unit and
/// .Service), with, for the KubeletPS agent's unit, what its ExecStart runs.
/// </summary>
public sealed record SystemdUnitStatus
{
    /// <summary>The unit's name with its type suffix (Id=), e.g. containerd.service.</summary>
    public required string Name { get; init; }
    public string Description { get; init; } = "";
    /// <summary>loaded, not-found, masked, error…</summary>
    public string LoadState { get; init; } = "";
    /// <summary>enabled, disabled, static, masked, generated… (empty when the unit has no file).</summary>
    public string UnitFileState { get; init; } = "";
    /// <summary>active, inactive, activating, deactivating, failed, reloading.</summary>
    public string ActiveState { get; init; } = "";
    /// <summary>running, exited, dead, auto-restart…</summary>
    public string SubState { get; init; } = "";
    /// <summary>The main process (0 when none).</summary>
    public int MainPid { get; init; }
    /// <summary>When the unit last entered the active state (ActiveEnterTimestamp); null when it never did.</summary>
    public DateTimeOffset? Since { get; init; }
    /// <summary>The unit file (empty for a unit without one).</summary>
    public string FragmentPath { get; init; } = "";
    /// <summary>Drop-in files that amend the unit file.</summary>
    public IReadOnlyList<string> DropInPaths { get; init; } = [];
    /// <summary>The agent's command, when this unit runs Start-KubeletAgent; otherwise null.</summary>
    public AgentUnitCommand? Agent { get; init; }
}

/// <summary>What a unit that runs the KubeletPS agent starts: the module, its version and the agent's files.</summary>
/// <param name="ModuleManifestPath">The KubeletPS.psd1 that ExecStart imports.</param>
/// <param name="ModuleVersion">ModuleVersion in that manifest; null when it cannot be read.</param>
/// <param name="ConfigPath">-ConfigPath of Start-KubeletAgent, or kubelet's default when not given.</param>
/// <param name="KubeconfigPath">-KubeconfigPath, or kubelet's default when not given.</param>
/// <param name="NodeName">-NodeName when given.</param>
public sealed record AgentUnitCommand(string ModuleManifestPath, string? ModuleVersion, string ConfigPath, string KubeconfigPath, string? NodeName);
