using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Api;
using KubeletPS.Core.Certificates;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// Request-KubeletCertificate: kubelet's TLS bootstrap, once. When kubelet.conf is missing or its client certificate is
/// unusable or expired (or with -Force), sends a node client CSR with the bootstrap kubeconfig's credentials, waits for
/// it to be approved and issued, and writes kubelet-client-current.pem and kubelet.conf.
/// </summary>
[Cmdlet(VerbsLifecycle.Request, "KubeletCertificate", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(KubeletCertificateRequestInfo))]
public sealed class RequestKubeletCertificateCommand : KubeletCmdlet
{
    /// <summary>The kubeconfig whose credentials may create CSRs (kubelet --bootstrap-kubeconfig).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("BootstrapKubeconfig")]
    public string BootstrapKubeconfigPath { get; set; } = "";

    /// <summary>The kubeconfig to check and write (kubelet --kubeconfig).</summary>
    [Parameter]
    public string KubeconfigPath { get; set; } = Core.Configuration.KubeletConfigLoader.DefaultKubeconfigPath;

    /// <summary>Where the certificate and key files live (kubelet --cert-dir).</summary>
    [Parameter]
    public string CertificateDirectory { get; set; } = "/var/lib/kubelet/pki";

    /// <summary>The node name; by default the host name, as kubelet determines it.</summary>
    [Parameter]
    public string? NodeName { get; set; }

    /// <summary>How long to wait for the CSR to be approved and issued (kubelet: 3600 s).</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 3600;

    /// <summary>Bootstrap even when the current client certificate is valid.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        const string prefix = ErrorIds.RequestKubeletCertificate;
        string nodeName;
        try
        {
            nodeName = Core.Node.NodeName.Resolve(NodeName);
        }
        catch (KubeletException e)
        {
            ThrowTerminatingError(EngineError(e, prefix + "InvalidArgument", NodeName));
            return;
        }
        var options = new CertificateBootstrapOptions
        {
            BootstrapKubeconfigPath = ResolveLiteralPath(BootstrapKubeconfigPath),
            KubeconfigPath = ResolveLiteralPath(KubeconfigPath),
            CertificateDirectory = ResolveLiteralPath(CertificateDirectory),
            NodeName = nodeName,
            Force = Force,
            WaitTimeout = TimeSpan.FromSeconds(TimeoutSec),
        };
        var bootstrap = new NodeCertificateBootstrap();
        var activity = $"Requesting a client certificate for node {nodeName}";
        try
        {
            var result = RunOnPipeline(async ct =>
            {
                if (!Force)
                {
                    var why = await bootstrap.WhyBootstrapIsNeededAsync(options.KubeconfigPath, ct).ConfigureAwait(false);
                    Post(() => WriteVerbose(why is null ? $"{options.KubeconfigPath} holds a valid client certificate; keeping it." : $"Bootstrap needed: {why}."));
                    if (why is null) return await bootstrap.BootstrapAsync(options, null, ct).ConfigureAwait(false);
                }
                if (!await AskAsync($"Node {nodeName}: {options.KubeconfigPath} and {options.CertificateDirectory}",
                        $"Send a certificate signing request with {options.BootstrapKubeconfigPath} and write the issued certificate").ConfigureAwait(false))
                    return null;
                try
                {
                    return await bootstrap.BootstrapAsync(options with { Force = true }, p => Post(() =>
                    {
                        WriteVerbose(p.Message);
                        WriteProgress(new ProgressRecord(1, activity, p.Message) { CurrentOperation = p.CsrName ?? "" });
                    }), ct).ConfigureAwait(false);
                }
                finally
                {
                    Post(() => WriteProgress(new ProgressRecord(1, activity, "Done") { RecordType = ProgressRecordType.Completed }));
                }
            });
            if (result is not null) WriteObject(new KubeletCertificateRequestInfo(result));
        }
        catch (CertificateBootstrapException e)
        {
            ThrowTerminatingError(EngineError(e, prefix + e.Problem, e.CsrName ?? e.Target));
        }
        catch (KubeletConfigException e)
        {
            ThrowTerminatingError(EngineError(e, prefix + ErrorIds.InvalidKubeconfig, e.Path));
        }
        catch (CertificateException e)
        {
            ThrowTerminatingError(EngineError(e, prefix + CertificateErrorIds.For(e), e.Target));
        }
        catch (KubeletApiException e)
        {
            ThrowTerminatingError(EngineError(e, prefix + ErrorIds.ApiRequestFailed, e.Target));
        }
        catch (OperationCanceledException e)
        {
            ThrowTerminatingError(EngineError(e, prefix + "Stopped", nodeName));
        }
        catch (Exception e) when (e is KubeletException or IOException or UnauthorizedAccessException)
        {
            ThrowTerminatingError(EngineError(e, prefix + "Failed", nodeName));
        }
    }
}

