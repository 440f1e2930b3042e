using KubeletPS.Core.Agent;

namespace KubeletPS.Output;

/// <summary>The agent's systemd service as Install-KubeletService left it.</summary>
public sealed class KubeletServiceInfo
{
    internal KubeletServiceInfo(SystemdServiceState state)
    {
        Name = state.Name;
        UnitPath = state.UnitPath;
        ExecStart = state.ExecStart;
        UnitChanged = state.UnitChanged;
        SystemdRunning = state.SystemdRunning;
        Enabled = state.Enabled;
        Active = state.Active;
    }

    /// <summary>The unit's name without ".service".</summary>
    public string Name { get; }

    public string UnitPath { get; }

    /// <summary>The command systemd runs.</summary>
    public string ExecStart { get; }

    /// <summary>False when the unit file already had this content.</summary>
    public bool UnitChanged { get; }

    /// <summary>Whether systemd manages this machine; without it the unit is written but not enabled.</summary>
    public bool SystemdRunning { get; }

    public bool Enabled { get; }

    public bool Active { get; }
}
