using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Agent;

namespace KubeletPS.Commands;

/// <summary>
/// The node cmdlets that run in the foreground until Ctrl+C (Start-KubeletAgent, Start-KubeletNodeHeartbeat):
/// kubelet's --bootstrap-kubeconfig and --cert-dir, a duration for scripts, and the body they share.
/// </summary>
public abstract class NodeForegroundCmdlet : NodeRegistrationCmdlet
{
    /// <summary>kubelet --bootstrap-kubeconfig: when kubelet.conf is missing or its client certificate cannot be used, bootstrap with it.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? BootstrapKubeconfigPath { get; set; }

    /// <summary>kubelet --cert-dir: where kubelet-client-current.pem and kubelet-server-current.pem are kept and rotated.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string CertificateDirectory { get; set; } = Core.Configuration.KubeletConfigurationDefaults.DefaultCertificateDirectory;

    /// <summary>Stop after this long (for scripts and tests); by default run until Ctrl+C.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int DurationSec { get; set; }

    /// <summary>
    /// Asks for the node (named as kubelet names it), then runs <paramref name="run"/> in the foreground until
    /// Ctrl+C, SIGTERM (systemctl stop) or <see cref="DurationSec"/>. <paramref name="run"/> gets the pipeline's
    /// token and the one that also ends with the duration. A stop is clean; a KubeletException is the
    /// cmdlet's terminating error.
    /// </summary>
    protected void RunInForeground(NodeAgentRequest request, string action, string errorIdPrefix, Func<CancellationToken, CancellationToken, Task> run)
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
                if (DurationSec > 0) duration.CancelAfter(TimeSpan.FromSeconds(DurationSec));
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

    /// <summary>The node's request with <see cref="BootstrapKubeconfigPath"/> and <see cref="CertificateDirectory"/>: each step of a TLS bootstrap at start is shown as progress and verbose.</summary>
    protected NodeAgentRequest WithCertificates(NodeAgentRequest request) => request with
    {
        BootstrapKubeconfigPath = BootstrapKubeconfigPath is null ? null : ResolveLiteralPath(BootstrapKubeconfigPath),
        CertificateDirectory = ResolveLiteralPath(CertificateDirectory),
        BootstrapProgress = p => Post(() =>
        {
            WriteVerbose(p.Message);
            WriteProgress(new ProgressRecord(2, "TLS bootstrap", p.Message)
            {
                CurrentOperation = p.CsrName ?? "",
                RecordType = p.Stage == Core.Certificates.Bootstrap.CertificateBootstrapStage.Done ? ProgressRecordType.Completed : ProgressRecordType.Processing,
            });
        }),
    };
}
