using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Agent;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// The node cmdlets that register the Node: kubelet's --hostname-override, --node-labels,
/// --register-with-taints and --node-ip on top of the shared parameters.
/// </summary>
public abstract class NodeRegistrationCmdlet : NodeAgentCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [ValidateNotNullOrEmpty]
    public string? NodeName { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] Label { get; set; } = [];

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] Taint { get; set; } = [];

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NodeIp { get; set; }

    protected override string? NodeNameParameter => NodeName;
    protected override IReadOnlyList<string> LabelParameter => Label;
    protected override IReadOnlyList<string> TaintParameter => Taint;
    protected override string? NodeIpParameter => NodeIp;

    /// <summary>
    /// The body Start-KubeletAgent and Start-KubeletNodeHeartbeat share: ask for the node (named as
    /// kubelet names it), then run <paramref name="run"/> in the foreground until Ctrl+C, SIGTERM
    /// (systemctl stop) or <paramref name="durationSec"/>. <paramref name="run"/> gets the pipeline's
    /// token and the one that also ends with the duration. A stop is clean; a KubeletException is
    /// the cmdlet's terminating error.
    /// </summary>
    protected void RunInForeground(NodeAgentRequest request, string action, string errorIdPrefix, int durationSec,
        Func<CancellationToken, CancellationToken, Task> run)
    {
        try
        {
            if (!ShouldProcess($"Node {Core.Node.NodeName.Resolve(request.NodeName)} (kubeconfig {request.KubeconfigPath})", action))
            {
                return;
            }
            using var terminate = StopOnTerminationSignal();
            RunOnPipeline(async ct =>
            {
                using var duration = CancellationTokenSource.CreateLinkedTokenSource(ct);
                if (durationSec > 0) duration.CancelAfter(TimeSpan.FromSeconds(durationSec));
                await run(ct, duration.Token).ConfigureAwait(false);
            });
        }
        catch (OperationCanceledException) when (CancellationToken.IsCancellationRequested)
        {
            // Ctrl+C: a clean stop. Pods keep running (unless Start-KubeletAgent -StopPodsOnExit) and the
            // next start adopts them; without a heartbeat the Lease simply expires.
        }
        catch (KubeletException e)
        {
            ThrowTerminatingError(NodeError(e, errorIdPrefix));
        }
    }

    /// <summary>
    /// kubelet's --bootstrap-kubeconfig and --cert-dir on <paramref name="request"/> (Start-KubeletAgent,
    /// Start-KubeletNodeHeartbeat): each step of a TLS bootstrap at start is shown as progress and verbose.
    /// </summary>
    protected NodeAgentRequest WithCertificates(NodeAgentRequest request, string? bootstrapKubeconfigPath, string certificateDirectory) => request with
    {
        BootstrapKubeconfigPath = bootstrapKubeconfigPath is null ? null : ResolveLiteralPath(bootstrapKubeconfigPath),
        CertificateDirectory = ResolveLiteralPath(certificateDirectory),
        BootstrapProgress = p => Post(() =>
        {
            WriteVerbose(p.Message);
            WriteProgress(new ProgressRecord(2, "TLS bootstrap", p.Message)
            {
                CurrentOperation = p.CsrName ?? "",
                RecordType = p.Stage == Core.Certificates.CertificateBootstrapStage.Done ? ProgressRecordType.Completed : ProgressRecordType.Processing,
            });
        }),
    };

    /// <summary>Registration progress while waiting for the API server at <paramref name="server"/>.</summary>
    protected Action<int, string> ReportWaiting(string activity, string server) =>
        (attempt, reason) => Post(() => WriteProgress(new ProgressRecord(1, activity, $"Waiting for the API server {server} (attempt {attempt}): {reason}")));

    /// <summary>Ends the registration progress and writes the registered Node.</summary>
    protected Action<NodeRegistrationOutcome> ReportRegistered(string activity) =>
        registered => Post(() =>
        {
            WriteProgress(new ProgressRecord(1, activity, "Registered") { RecordType = ProgressRecordType.Completed });
            WriteObject(new KubeletNodeInfo(registered.Node, registered.Changes, registered.Created));
        });
}
