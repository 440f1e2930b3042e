using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Agent;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// Install-KubeletService: installs the agent as a systemd service (a unit running Start-KubeletAgent
/// with this module and this pwsh), then reloads systemd and enables it, and with -Start starts it.
/// </summary>
[Cmdlet(VerbsLifecycle.Install, "KubeletService", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(KubeletServiceInfo))]
public sealed class InstallKubeletServiceCommand : KubeletCmdlet
{
    private const string Prefix = nameof(ErrorIds.InstallKubeletService);

    /// <summary>The unit's name, without ".service".</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "kubeletps";

    /// <summary>The kubelet configuration the service reads (Start-KubeletAgent's default when not given).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ConfigPath { get; set; }

    /// <summary>The kubeconfig the service reads (Start-KubeletAgent's default when not given).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? KubeconfigPath { get; set; }

    /// <summary>The node's name (by default the host name when the service starts).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NodeName { get; set; }

    /// <summary>The pwsh the service runs; by default the one running this command.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PwshPath { get; set; }

    /// <summary>Where the unit file goes.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string UnitDirectory { get; set; } = "/etc/systemd/system";

    /// <summary>Also start (or restart, when the unit changed) the service.</summary>
    [Parameter]
    public SwitchParameter Start { get; set; }

    /// <summary>Replace a unit file of that name with other content.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        var manifest = AgentServiceFiles.ModuleManifest(this, Prefix, "Install-KubeletService");
        var pwsh = AgentServiceFiles.Pwsh(this, Prefix, PwshPath is null ? null : ResolveLiteralPath(PwshPath), "name it with -PwshPath");
        var request = new SystemdServiceRequest
        {
            Name = Name,
            PwshPath = pwsh,
            ModuleManifestPath = manifest,
            ConfigPath = ConfigPath is null ? null : ResolveLiteralPath(ConfigPath),
            KubeconfigPath = KubeconfigPath is null ? null : ResolveLiteralPath(KubeconfigPath),
            NodeName = NodeName,
            UnitDirectory = ResolveLiteralPath(UnitDirectory),
            DotnetRoot = SystemdService.DotnetRootFor(Environment.ProcessPath),
        };
        try
        {
            var execStart = SystemdService.ExecStart(request);
            WriteVerbose($"ExecStart={execStart}");
            var changed = false;
            if (ShouldProcess(request.UnitPath, "Write the systemd unit of the KubeletPS agent"))
            {
                changed = SystemdService.WriteUnit(request, Force);
                WriteVerbose(changed ? $"Wrote {request.UnitPath}." : $"{request.UnitPath} already has this content.");
            }
            else
            {
                return;
            }

            var systemd = SystemdService.SystemdRunning;
            if (!systemd)
            {
                WriteWarning($"systemd does not run this machine (no /run/systemd/system): {request.UnitPath} is written but not enabled or started.");
            }
            else if (ShouldProcess($"{Name}.service", Start ? "Reload systemd, enable and start the service" : "Reload systemd and enable the service"))
            {
                SystemdService.Enable(Name, Start, changed);
            }
            var (enabled, active) = SystemdService.State(Name);
            WriteObject(new KubeletServiceInfo(new SystemdServiceState(Name, request.UnitPath, execStart, changed, systemd, enabled, active)));
        }
        catch (KubeletException e)
        {
            var problem = e.Category switch
            {
                KubeletErrorKind.Conflict => "UnitExists",
                KubeletErrorKind.InvalidArgument => "InvalidArgument",
                KubeletErrorKind.PermissionDenied => "AccessDenied",
                _ => "Failed",
            };
            ThrowTerminatingError(EngineError(e, Prefix + problem, e.Target ?? request.UnitPath));
        }
    }
}
