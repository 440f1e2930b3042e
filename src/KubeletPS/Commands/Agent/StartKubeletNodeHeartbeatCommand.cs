using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Agent;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// Start-KubeletNodeHeartbeat (alias Start-NodeHeartbeat): registration, lease renewal and node
/// status in the foreground until Ctrl+C — the node half of the kubelet.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "KubeletNodeHeartbeat", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[Alias("Start-NodeHeartbeat")]
[OutputType(typeof(KubeletNodeInfo))]
public sealed class StartKubeletNodeHeartbeatCommand : NodeForegroundCmdlet
{
    protected override void ProcessRecord()
    {
        const string prefix = nameof(ErrorIds.StartKubeletNodeHeartbeat);
        var request = WithCertificates(BuildRequest());
        RunInForeground(request, "Register and keep the node's lease and status up to date", prefix, async (ct, stop) =>
        {
            await using var context = await NodeAgentContext.CreateAsync(request, Log, stop).ConfigureAwait(false);
            var activity = $"Registering node {context.Options.NodeName}";
            try
            {
                await context.RunHeartbeatAsync(ReportWaiting(activity, context.Identity.Server), ReportRegistered(activity), Log, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                Log.Info($"Stopped the heartbeat of node {context.Options.NodeName} after {DurationSec} s.");
            }
        });
    }
}
