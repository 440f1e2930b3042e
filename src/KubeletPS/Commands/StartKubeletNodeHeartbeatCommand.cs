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
public sealed class StartKubeletNodeHeartbeatCommand : NodeRegistrationCmdlet
{
    /// <summary>Stop after this long (for scripts and tests); by default run until Ctrl+C.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int DurationSec { get; set; }


    protected override void ProcessRecord()
    {
        const string prefix = nameof(ErrorIds.StartKubeletNodeHeartbeat);
        var request = BuildRequest();
        var target = $"Node {request.NodeName ?? System.Net.Dns.GetHostName().ToLowerInvariant()} (kubeconfig {request.KubeconfigPath})";
        if (!ShouldProcess(target, "Register and keep the node's lease and status up to date"))
        {
            return;
        }
        using var terminate = StopOnTerminationSignal();
        try
        {
            RunOnPipeline(async ct =>
            {
                using var duration = CancellationTokenSource.CreateLinkedTokenSource(ct);
                if (DurationSec > 0) duration.CancelAfter(TimeSpan.FromSeconds(DurationSec));
                await using var context = await NodeAgentContext.CreateAsync(request, Log, duration.Token).ConfigureAwait(false);
                var activity = $"Registering node {context.Options.NodeName}";
                try
                {
                    await context.RunHeartbeatAsync(
                        (attempt, reason) => Post(() => WriteProgress(new ProgressRecord(1, activity, $"Waiting for the API server {context.Identity.Server} (attempt {attempt}): {reason}"))),
                        registered => Post(() =>
                        {
                            WriteProgress(new ProgressRecord(1, activity, "Registered") { RecordType = ProgressRecordType.Completed });
                            WriteObject(new KubeletNodeInfo(registered.Node, registered.Changes, registered.Created));
                        }),
                        Log, duration.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (duration.IsCancellationRequested && !ct.IsCancellationRequested)
                {
                    Log.Info($"Stopped the heartbeat of node {context.Options.NodeName} after {DurationSec} s.");
                }
            });
        }
        catch (OperationCanceledException) when (CancellationToken.IsCancellationRequested)
        {
            // Ctrl+C: a clean stop. The Lease simply expires if nothing renews it.
        }
        catch (KubeletException e)
        {
            ThrowTerminatingError(NodeError(e, prefix));
        }
    }
}
