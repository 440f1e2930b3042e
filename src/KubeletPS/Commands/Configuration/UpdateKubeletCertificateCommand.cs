using System.Management.Automation;
using System.Net;
using KubeletPS.Core;
using KubeletPS.Core.Api;
using KubeletPS.Core.Certificates;
using KubeletPS.Core.Certificates.Bootstrap;
using KubeletPS.Core.Certificates.Checks;
using KubeletPS.Core.Certificates.Rotation;

namespace KubeletPS.Commands;

/// <summary>
/// Update-KubeletCertificate: rotate the node's client (or with -Serving, serving) certificate now, as the running agent
/// does at its rotation deadline: a new key and CSR with kubelet.conf's credentials (or, for an expired client
/// certificate, with -BootstrapKubeconfigPath), wait for issuance, write the dated file and move the current link.
/// Outputs the new certificate as Get-KubeletCertificate does.
/// </summary>
[Cmdlet(VerbsData.Update, "KubeletCertificate", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(KubeletCertificateInfo))]
public sealed class UpdateKubeletCertificateCommand : KubeletCmdlet
{
    /// <summary>The kubeconfig whose credentials request the new certificate (kubelet --kubeconfig).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string KubeconfigPath { get; set; } = Core.Configuration.KubeletConfigLoader.DefaultKubeconfigPath;

    /// <summary>Where the certificate files live (kubelet --cert-dir).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string CertificateDirectory { get; set; } = Core.Configuration.KubeletConfigurationDefaults.DefaultCertificateDirectory;

    /// <summary>For an expired or unusable client certificate: TLS bootstrap with this kubeconfig instead.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [Alias("BootstrapKubeconfig")]
    public string? BootstrapKubeconfigPath { get; set; }

    /// <summary>The node name; by default the host name, as kubelet determines it.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? NodeName { get; set; }

    /// <summary>Rotate the serving certificate (kubelet-server-current.pem) instead of the client certificate.</summary>
    [Parameter]
    public SwitchParameter Serving { get; set; }

    /// <summary>Addresses for the serving certificate's SANs; by default the node's address.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] IPAddress { get; set; } = [];

    /// <summary>How long to wait for the CSR to be approved and issued (client-go: 15 minutes).</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 900;

    protected override void ProcessRecord()
    {
        const string prefix = nameof(ErrorIds.UpdateKubeletCertificate);
        KubeletCertificateRenewalOptions options;
        try
        {
            var nodeName = Core.Node.NodeName.Resolve(NodeName);
            var addresses = IPAddress.Select(ParseAddress).ToList();
            if (Serving && addresses.Count == 0 && new Core.Node.MachineInfoReader().DetectNodeIp() is { } detected) addresses.Add(System.Net.IPAddress.Parse(detected));
            options = new KubeletCertificateRenewalOptions
            {
                KubeconfigPath = ResolveLiteralPath(KubeconfigPath),
                CertificateDirectory = ResolveLiteralPath(CertificateDirectory),
                BootstrapKubeconfigPath = BootstrapKubeconfigPath is null ? null : ResolveLiteralPath(BootstrapKubeconfigPath),
                NodeName = nodeName,
                Kind = Serving ? KubeletCertificateKind.Serving : KubeletCertificateKind.Client,
                IpAddresses = addresses,
                WaitTimeout = TimeSpan.FromSeconds(TimeoutSec),
            };
        }
        catch (KubeletException e)
        {
            ThrowTerminatingError(EngineError(e, prefix + "InvalidArgument", e.Target ?? NodeName));
            return;
        }
        var which = Serving ? "serving" : "client";
        if (!ShouldProcess($"Node {options.NodeName}: {options.CertificateDirectory}",
                $"Request a new {which} certificate for a new key and point kubelet-{(Serving ? "server" : "client")}-current.pem at it"))
            return;
        var activity = $"Rotating the {which} certificate of node {options.NodeName}";
        try
        {
            var rotation = RunOnPipeline(async ct =>
            {
                try
                {
                    return await KubeletCertificateRenewal.RenewAsync(options, Log, p => PostStep(activity, p.Message, p.CsrName ?? ""), ct).ConfigureAwait(false);
                }
                finally
                {
                    PostDone(activity);
                }
            });
            var certificates = RunOnPipeline(ct => NodeCertificateReader.ReadAsync(PemSource.FromFile(rotation.CurrentPath), null, DateTimeOffset.UtcNow, ct));
            foreach (var certificate in certificates) WriteObject(new KubeletCertificateInfo(certificate));
        }
        catch (CertificateBootstrapException e)
        {
            ThrowTerminatingError(EngineError(e, prefix + e.Problem, e.CsrName ?? e.Target));
        }
        catch (KubeletConfigException e)
        {
            ThrowTerminatingError(EngineError(e, prefix + ErrorIds.InvalidKubeconfig, e.Path));
        }
        catch (KubeletApiException e)
        {
            ThrowTerminatingError(EngineError(e, prefix + ErrorIds.ApiRequestFailed, e.Target));
        }
        catch (OperationCanceledException e)
        {
            ThrowTerminatingError(EngineError(e, prefix + "Stopped", options.NodeName));
        }
        catch (Exception e) when (e is KubeletException or IOException or UnauthorizedAccessException)
        {
            ThrowTerminatingError(EngineError(e, prefix + (e is KubeletException { Category: KubeletErrorKind.Authentication } ? "CredentialsUnusable" : "Failed"),
                (e as KubeletException)?.Target ?? options.NodeName));
        }
    }

    private static IPAddress ParseAddress(string text) =>
        System.Net.IPAddress.TryParse(text, out var address) ? address
            : throw new KubeletException($"'{text}' is not an IP address.", KubeletErrorKind.InvalidArgument, text);
}
