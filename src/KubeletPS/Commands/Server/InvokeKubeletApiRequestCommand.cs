using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Api;
using KubeletPS.Core.Configuration;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>Invoke-KubeletApiRequest: curl against the API server with the node's kubeconfig.</summary>
[Cmdlet(VerbsLifecycle.Invoke, "KubeletApiRequest", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(KubeletApiResponse))]
public sealed class InvokeKubeletApiRequestCommand : KubeletApiCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "/api";

    [Parameter]
    [ValidateSet("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", IgnoreCase = true)]
    public string Method { get; set; } = "GET";

    [Parameter]
    public string? Body { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string ContentType { get; set; } = "application/json";

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string KubeconfigPath { get; set; } = KubeletConfigLoader.DefaultKubeconfigPath;

    [Parameter]
    public SwitchParameter Anonymous { get; set; }

    protected override void ProcessRecord()
    {
        if (SkipCertificateCheck)
        {
            WriteWarning("-SkipCertificateCheck: the API server's certificate is not verified; anyone between you and it could answer.");
        }
        var kubeconfigPath = ResolveLiteralPath(KubeconfigPath);
        var method = Method.ToUpperInvariant();
        if (method is not ("GET" or "HEAD") && !ShouldProcess($"{Path} on the API server in {kubeconfigPath}", method))
        {
            return;
        }
        try
        {
            var response = RunOnPipeline(async ct =>
            {
                var kubeconfig = await LoadKubeconfigAsync(kubeconfigPath, ct).ConfigureAwait(false);
                Post(() => WriteVerbose($"{method} {kubeconfig.Server.TrimEnd('/')}{Path} as {(Anonymous ? "system:anonymous" : kubeconfig.UserName)}"));
                return await ApiRequester.SendAsync(kubeconfig, new ApiRequestOptions
                {
                    Path = Path,
                    Method = method,
                    Body = Body,
                    ContentType = ContentType,
                    Anonymous = Anonymous,
                    SkipCertificateCheck = SkipCertificateCheck,
                    Timeout = TimeSpan.FromSeconds(TimeoutSec),
                }, ct).ConfigureAwait(false);
            });
            WriteObject(new KubeletApiResponse(response));
        }
        catch (KubeletConfigException e)
        {
            ThrowTerminatingError(EngineError(e, ErrorIds.InvokeKubeletApiRequestInvalidKubeconfig, e.Path));
        }
        catch (KubeletApiException e)
        {
            ThrowTerminatingError(EngineError(e, ErrorIds.InvokeKubeletApiRequestFailed, e.Target));
        }
    }
}
