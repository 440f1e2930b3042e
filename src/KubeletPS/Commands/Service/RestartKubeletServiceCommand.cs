using System.Management.Automation;
using KubeletPS.Core.Systemd;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>Restart-KubeletService: systemctl restart of the agent's unit (or another named one).</summary>
[Cmdlet(VerbsLifecycle.Restart, "KubeletService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(KubeletServiceStatus))]
public sealed class RestartKubeletServiceCommand : SystemdUnitCmdlet
{
    /// <summary>Write the unit's status after the restart.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() => ForUnit(nameof(ErrorIds.RestartKubeletService), unit =>
    {
        if (!ShouldProcess(unit.Name, "Restart the service")) return;
        var restarted = RunOnPipeline(ct => SystemdServiceControl.RestartAsync(unit.Name, ct));
        WriteVerbose($"{restarted.Name}: {restarted.ActiveState} ({restarted.SubState}), main PID {restarted.MainPid} (was {unit.MainPid}).");
        if (PassThru) WriteObject(new KubeletServiceStatus(restarted));
    });
}
