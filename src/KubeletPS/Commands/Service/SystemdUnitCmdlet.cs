using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Systemd;

namespace KubeletPS.Commands;

/// <summary>
/// The systemd cmdlets that act on one unit of the node (Restart-KubeletService, Uninstall-KubeletService):
/// -Name, the unit looked up before anything is asked or done, and an engine failure written as that unit's error.
/// </summary>
public abstract class SystemdUnitCmdlet : SystemdCmdlet
{
    /// <summary>The unit (Install-KubeletService's -Name; "kubeletps" means kubeletps.service).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "kubeletps";

    /// <summary>Finds the unit <see cref="Name"/> names and runs <paramref name="act"/> on it; <paramref name="prefix"/> is the cmdlet's ErrorIds prefix.</summary>
    protected void ForUnit(string prefix, Action<SystemdUnitStatus> act)
    {
        try
        {
            act(RunOnPipeline(ct => SystemdServiceControl.FindAsync(Name, ct)));
        }
        catch (KubeletException e)
        {
            WriteError(SystemdError(e, prefix, Name));
        }
    }
}
