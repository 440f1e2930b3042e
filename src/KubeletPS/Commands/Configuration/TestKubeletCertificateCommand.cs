using System.Management.Automation;
using KubeletPS.Core.Certificates;
using KubeletPS.Core.Certificates.Checks;

namespace KubeletPS.Commands;

/// <summary>
/// The openssl checks of a kubelet client certificate, automated: key matches, valid now (or
/// at -At), chains to the cluster CA, allows client auth, carries a node identity, and does not
/// expire within -MinimumDaysRemaining. Returns $true/$false, or with -Detailed one
/// <see cref="KubeletCertificateCheck"/> per check.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "KubeletCertificate", DefaultParameterSetName = KubeconfigSet)]
[OutputType(typeof(bool), typeof(KubeletCertificateCheck))]
public sealed class TestKubeletCertificateCommand : KubeletCertificateCmdlet
{
    private const string ErrorIdPrefix = "TestKubeletCertificate";

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? CAPath { get; set; }

    [Parameter(ParameterSetName = KubeconfigSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    [ValidateNotNullOrEmpty]
    public string? KubeconfigPath { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NodeName { get; set; }

    [Parameter]
    public DateTime At { get; set; }

    [Parameter]
    [ValidateRange(0, 36500)]
    public int MinimumDaysRemaining { get; set; } = 30;

    [Parameter]
    public SwitchParameter Detailed { get; set; }

    protected override void ProcessRecord()
    {
        var options = new CertificateTestOptions
        {
            Key = KeyPath is null ? null : PemSource.FromFile(ResolveLiteralPath(KeyPath)),
            CertificateAuthority = CAPath is null ? null : PemSource.FromFile(ResolveLiteralPath(CAPath)),
            NodeName = NodeName,
            // A [datetime] without a kind ('2030-01-01') is local time, as everywhere in PowerShell.
            At = MyInvocation.BoundParameters.ContainsKey(nameof(At)) ? new DateTimeOffset(At) : DateTimeOffset.UtcNow,
            MinimumDaysRemaining = MinimumDaysRemaining,
        };

        if (ParameterSetName == KubeconfigSet)
        {
            var kubeconfig = ResolveLiteralPath(KubeconfigPath ?? NodeCertificateReader.DefaultKubeconfigPath);
            Test(kubeconfig, options with { KubeconfigPath = kubeconfig });
            return;
        }

        // A certificate file: the CA is -CAPath, else the kubeconfig's (when it exists or was asked for).
        string? caKubeconfig = null;
        if (CAPath is null)
        {
            caKubeconfig = ResolveLiteralPath(KubeconfigPath ?? NodeCertificateReader.DefaultKubeconfigPath);
            if (KubeconfigPath is null && !File.Exists(caKubeconfig))
            {
                WriteVerbose($"No -CAPath and no {caKubeconfig}: the chain cannot be verified.");
                caKubeconfig = null;
            }
        }
        var literal = ParameterSetName == LiteralPathSet;
        foreach (var input in literal ? LiteralPath : Path)
        {
            foreach (var file in ResolveFilePaths(input, literal, ErrorIdPrefix))
            {
                Test(file, options with { Certificate = PemSource.FromFile(file), KubeconfigPath = caKubeconfig });
            }
        }
    }

    private void Test(string target, CertificateTestOptions options)
    {
        CertificateTestReport report;
        try
        {
            report = RunOnPipeline(ct => NodeCertificateTester.TestAsync(options, Log, ct));
        }
        catch (Exception e) when (CertificateErrorIds.IsInputProblem(e))
        {
            ThrowTerminatingError(EngineError(e, ErrorIdPrefix + CertificateErrorIds.For(e), CertificateErrorIds.TargetOf(e, target)));
            return;
        }
        if (!Detailed)
        {
            WriteObject(report.Passed);
            return;
        }
        foreach (var check in report.Checks)
        {
            WriteObject(new KubeletCertificateCheck(check, report.CertificateSource));
        }
    }
}
