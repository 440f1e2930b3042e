using KubeletPS.Core.Systemd;

namespace KubeletPS.Output;

/// <summary>
/// One systemd unit of the node as Get-KubeletService reports it (systemctl show's properties).
/// <see cref="Enabled"/> and <see cref="Active"/> are the two checks an administrator makes first.
/// </summary>
public sealed class KubeletServiceStatus
{
    internal KubeletServiceStatus(SystemdUnitStatus unit)
    {
        Name = unit.Name;
        Description = unit.Description;
        LoadState = unit.LoadState;
        UnitFileState = unit.UnitFileState;
        ActiveState = unit.ActiveState;
        SubState = unit.SubState;
        MainPID = unit.MainPid;
        Since = unit.Since;
        FragmentPath = unit.FragmentPath;
        DropInPaths = [.. unit.DropInPaths];
        IsAgent = unit.Agent is not null;
        ModuleManifestPath = unit.Agent?.ModuleManifestPath;
        ModuleVersion = unit.Agent?.ModuleVersion;
        ConfigPath = unit.Agent?.ConfigPath;
        KubeconfigPath = unit.Agent?.KubeconfigPath;
        NodeName = unit.Agent?.NodeName;
    }

    /// <summary>The unit's name with its suffix, e.g. containerd.service.</summary>
    public string Name { get; }

    public string Description { get; }

    /// <summary>loaded, not-found, masked…: not-found means no such unit on this node.</summary>
    public string LoadState { get; }

    /// <summary>enabled, disabled, static, masked… (empty when the unit has no file).</summary>
    public string UnitFileState { get; }

    /// <summary>active, inactive, activating, failed…</summary>
    public string ActiveState { get; }

    /// <summary>running, exited, dead, auto-restart…</summary>
    public string SubState { get; }

    /// <summary>The main process; 0 when the unit runs none.</summary>
    public int MainPID { get; }

    /// <summary>When the unit last became active (ActiveEnterTimestamp); null when it never did.</summary>
    public DateTimeOffset? Since { get; }

    /// <summary>The unit file.</summary>
    public string FragmentPath { get; }

    public string[] DropInPaths { get; }

    /// <summary>UnitFileState is enabled (or enabled-runtime): the unit starts at boot.</summary>
    public bool Enabled => UnitFileState is "enabled" or "enabled-runtime";

    /// <summary>ActiveState is active.</summary>
    public bool Active => ActiveState == "active";

    /// <summary>The unit runs the KubeletPS agent (Start-KubeletAgent in its ExecStart).</summary>
    public bool IsAgent { get; }

    /// <summary>For the agent's unit: the module manifest it imports.</summary>
    public string? ModuleManifestPath { get; }

    /// <summary>For the agent's unit: ModuleVersion of that manifest.</summary>
    public string? ModuleVersion { get; }

    /// <summary>For the agent's unit: the kubelet configuration it reads.</summary>
    public string? ConfigPath { get; }

    /// <summary>For the agent's unit: the kubeconfig it reads.</summary>
    public string? KubeconfigPath { get; }

    /// <summary>For the agent's unit: -NodeName when the unit gives one.</summary>
    public string? NodeName { get; }

    public override string ToString() => Name;
}
