using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Systemd;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// Get-KubeletService: the node's services as systemctl show reports them — by default containerd,
/// the agent's unit, kubelet, open-iscsi, iscsid and what the agent's unit file names in After=,
/// Wants= and Requires=; -Name picks units; -All lists every enabled service
/// (systemctl list-unit-files --type=service --state=enabled).
/// </summary>
[Cmdlet(VerbsCommon.Get, "KubeletService", DefaultParameterSetName = NodeSet)]
[OutputType(typeof(KubeletServiceStatus))]
public sealed class GetKubeletServiceCommand : SystemdCmdlet
{
    private const string NodeSet = "Node";
    private const string NameSet = "Name";
    private const string AllSet = "All";
    private const string Prefix = nameof(ErrorIds.GetKubeletService);

    /// <summary>Units to show ("containerd" means containerd.service).</summary>
    [Parameter(ParameterSetName = NameSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [];

    /// <summary>Every enabled service.</summary>
    [Parameter(ParameterSetName = AllSet, Mandatory = true)]
    public SwitchParameter All { get; set; }

    /// <summary>The agent's unit (Install-KubeletService's -Name).</summary>
    [Parameter(ParameterSetName = NodeSet)]
    [ValidateNotNullOrEmpty]
    public string AgentUnit { get; set; } = "kubeletps";

    protected override void ProcessRecord()
    {
        try
        {
            var units = RunOnPipeline(async ct => ParameterSetName switch
            {
                NameSet => await SystemdUnits.ShowAsync(Name, ct).ConfigureAwait(false),
                AllSet => await SystemdUnits.EnabledServiceStatusesAsync(ct).ConfigureAwait(false),
                _ => await SystemdUnits.NodeUnitsAsync(AgentUnit, ct).ConfigureAwait(false),
            });
            foreach (var unit in units)
            {
                if (ParameterSetName == NameSet && unit.LoadState == "not-found")
                {
                    WriteError(new ErrorRecord(new ItemNotFoundException($"systemd has no unit {unit.Name} (LoadState=not-found)."),
                        Prefix + "NotFound", ErrorCategory.ObjectNotFound, unit.Name));
                    continue;
                }
                WriteObject(new KubeletServiceStatus(unit));
            }
        }
        catch (KubeletException e)
        {
            ThrowTerminatingError(SystemdError(e, Prefix, "systemctl"));
        }
    }
}
