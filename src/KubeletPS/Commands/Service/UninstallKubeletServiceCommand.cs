using System.Management.Automation;
using KubeletPS.Core.Systemd;

namespace KubeletPS.Commands;

/// <summary>
/// Uninstall-KubeletService: stops and disables the agent's unit, removes the unit file and the
/// drop-ins Install-KubeletService wrote, and reloads systemd. The pods the agent ran keep running.
/// </summary>
[Cmdlet(VerbsLifecycle.Uninstall, "KubeletService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(void))]
public sealed class UninstallKubeletServiceCommand : SystemdUnitCmdlet
{
    /// <summary>Also remove a unit file or drop-in that Install-KubeletService did not write.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord() => ForUnit(nameof(ErrorIds.UninstallKubeletService), unit =>
    {
        var files = SystemdServiceControl.FilesToRemove(unit, Force);
        var removing = files.Count == 0 ? "" : $", remove {string.Join(", ", files)}";
        if (!ShouldProcess(unit.Name, $"Stop and disable the service{removing} and reload systemd")) return;
        var removal = RunOnPipeline(ct => SystemdServiceControl.UninstallAsync(unit, files, ct));
        foreach (var file in removal.RemovedFiles) WriteVerbose($"Removed {file}.");
    });
}
