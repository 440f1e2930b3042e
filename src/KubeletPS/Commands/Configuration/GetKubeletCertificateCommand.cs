using System.Management.Automation;
using KubeletPS.Core.Certificates;
using KubeletPS.Core.Certificates.Checks;

namespace KubeletPS.Commands;

/// <summary>
/// Shows the node's client certificate (or any certificate file): subject, node name and
/// groups, validity, key, usages, SANs, serial and fingerprint. With no path, the client
/// certificate the kubelet's kubeconfig names.
/// </summary>
[Cmdlet(VerbsCommon.Get, "KubeletCertificate", DefaultParameterSetName = KubeconfigSet)]
[OutputType(typeof(KubeletCertificateInfo))]
public sealed class GetKubeletCertificateCommand : KubeletCertificateCmdlet
{
    private const string ErrorIdPrefix = "GetKubeletCertificate";

    [Parameter(ParameterSetName = KubeconfigSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string KubeconfigPath { get; set; } = NodeCertificateReader.DefaultKubeconfigPath;

    protected override void ProcessRecord()
    {
        var now = DateTimeOffset.UtcNow;
        if (ParameterSetName == KubeconfigSet)
        {
            var kubeconfig = ResolveLiteralPath(KubeconfigPath);
            Write(kubeconfig, ct => NodeCertificateReader.ReadFromKubeconfigAsync(kubeconfig, now, ct));
            return;
        }
        var key = KeyPath is null ? null : PemSource.FromFile(ResolveLiteralPath(KeyPath));
        var literal = ParameterSetName == LiteralPathSet;
        foreach (var input in literal ? LiteralPath : Path)
        {
            foreach (var file in ResolveFilePaths(input, literal, ErrorIdPrefix))
            {
                Write(file, ct => NodeCertificateReader.ReadAsync(PemSource.FromFile(file), key, now, ct));
            }
        }
    }

    /// <summary>Writes the certificates of one file; an unusable file is an error for that file only.</summary>
    private void Write(string file, Func<CancellationToken, Task<IReadOnlyList<CertificateInfo>>> read)
    {
        IReadOnlyList<CertificateInfo> certificates;
        try
        {
            certificates = RunOnPipeline(read);
        }
        catch (Exception e) when (CertificateErrorIds.IsInputProblem(e))
        {
            WriteError(EngineError(e, ErrorIdPrefix + CertificateErrorIds.For(e), CertificateErrorIds.TargetOf(e, file)));
            return;
        }
        foreach (var certificate in certificates)
        {
            WriteObject(new KubeletCertificateInfo(certificate));
        }
    }
}
