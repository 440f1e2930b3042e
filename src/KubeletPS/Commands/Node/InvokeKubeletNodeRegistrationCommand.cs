using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Agent;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// Invoke-KubeletNodeRegistration (alias Invoke-NodeRegistration): registers the node with the
/// API server, or reconciles an existing Node as kubelet does, once, and returns it.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "KubeletNodeRegistration", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[Alias("Invoke-NodeRegistration")]
[OutputType(typeof(KubeletNodeInfo))]
public sealed class InvokeKubeletNodeRegistrationCommand : NodeRegistrationCmdlet
{
    /// <summary>How long to keep retrying while the API server does not answer.</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 120;

    protected override void ProcessRecord()
    {
        const string prefix = nameof(ErrorIds.InvokeKubeletNodeRegistration);
        var request = BuildRequest();
        try
        {
            var outcome = RunOnPipeline(async ct =>
            {
                await using var context = await NodeAgentContext.CreateAsync(request, Log, ct).ConfigureAwait(false);
                var plan = await context.PlanRegistrationAsync(Log, ct).ConfigureAwait(false);
                var action = plan.Create ? "Register" : plan.Changes.Count == 0 ? "Reconcile (no change)" : $"Reconcile ({string.Join("; ", plan.Changes)})";
                if (!await AskAsync($"Node {plan.NodeName} on {plan.Server}", action).ConfigureAwait(false)) return null;
                var activity = $"Registering node {plan.NodeName}";
                try
                {
                    return await context.RegisterAsync(TimeSpan.FromSeconds(TimeoutSec), ReportWaiting(activity, plan.Server), Log, ct).ConfigureAwait(false);
                }
                finally
                {
                    PostDone(activity);
                }
            });
            if (outcome is not null)
            {
                WriteObject(new KubeletNodeInfo(outcome));
            }
        }
        catch (Exception e) when (e is KubeletException or OperationCanceledException)
        {
            ThrowTerminatingError(NodeError(e, prefix));
        }
    }
}
