using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Api;
using KubeletPS.Core.Configuration;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// Test-KubeletApiConnection: the curl checks of a node's API access — the server verifies
/// against the cluster CA, refuses anonymous requests, and accepts the node's credentials.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "KubeletApiConnection")]
[OutputType(typeof(bool), typeof(KubeletApiCheck))]
public sealed class TestKubeletApiConnectionCommand : KubeletApiCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string KubeconfigPath { get; set; } = KubeletConfigLoader.DefaultKubeconfigPath;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NodeName { get; set; }

    [Parameter]
    public SwitchParameter Detailed { get; set; }

    protected override void ProcessRecord()
    {
        if (SkipCertificateCheck)
        {
            WriteWarning("-SkipCertificateCheck: the API server's certificate is not verified, so ServerTrusted fails.");
        }
        var kubeconfigPath = ResolveLiteralPath(KubeconfigPath);
        IReadOnlyList<ApiConnectionCheck> checks;
        try
        {
            checks = RunOnPipeline(async ct =>
            {
                var kubeconfig = await LoadKubeconfigAsync(kubeconfigPath, ct).ConfigureAwait(false);
                return await ApiConnectionTester.TestAsync(kubeconfig, NodeName, TimeSpan.FromSeconds(TimeoutSec), SkipCertificateCheck, ct).ConfigureAwait(false);
            });
        }
        catch (KubeletConfigException e)
        {
            ThrowTerminatingError(EngineError(e, ErrorIds.TestKubeletApiConnectionInvalidKubeconfig, e.Path));
            return;
        }
        foreach (var check in checks.Where(c => !c.Passed))
        {
            WriteVerbose($"{check.Name} failed: {check.Message}");
        }
        if (Detailed)
        {
            foreach (var check in checks) WriteObject(new KubeletApiCheck(check));
        }
        else
        {
            WriteObject(checks.Count > 0 && checks.All(c => c.Passed) && checks.Any(c => c.Name == ApiConnectionTester.CredentialsAccepted));
        }
    }
}
