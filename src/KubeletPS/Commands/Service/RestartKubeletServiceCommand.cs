using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Systemd;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>Restart-KubeletService: systemctl restart of the agent's unit (or another named one).</summary>
[Cmdlet(VerbsLifecycle.Restart, "KubeletService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(KubeletServiceStatus))]
public sealed class RestartKubeletServiceCommand : SystemdCmdlet
{
    private const string Prefix = nameof(ErrorIds.RestartKubeletService);

    /// <summary>The unit (Install-KubeletService's -Name; "kubeletps" means kubeletps.service).</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "kubeletps";

    /// <summary>Write the unit's status after the restart.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        try
        {
            var unit = RunOnPipeline(ct => SystemdServiceControl.FindAsync(Name, ct));
            if (!ShouldProcess(unit.Name, "Restart the service")) return;
            var restarted = RunOnPipeline(ct => SystemdServiceControl.RestartAsync(unit.Name, ct));
            WriteVerbose($"{restarted.Name}: {restarted.ActiveState} ({restarted.SubState}), main PID {restarted.MainPid} (was {unit.MainPid}).");
            if (PassThru) WriteObject(new KubeletServiceStatus(restarted));
        }
        catch (KubeletException e)
        {
            WriteError(SystemdError(e, Prefix, Name));
        }
    }
}
