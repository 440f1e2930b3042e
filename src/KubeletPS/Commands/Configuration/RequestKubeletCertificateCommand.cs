using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Api;
using KubeletPS.Core.Certificates;
using KubeletPS.Core.Certificates.Bootstrap;
using KubeletPS.Core.Certificates.Rotation;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// Request-KubeletCertificate: kubelet's TLS bootstrap, once. When kubelet.conf is missing or its client certificate is
/// unusable or expired (or with -Force), sends a node client CSR with the bootstrap kubeconfig's credentials, waits for
/// it to be approved and issued, and writes kubelet-client-current.pem and kubelet.conf. With -Serving, requests a
/// kubelet-serving certificate once with kubelet.conf's credentials (what serverTLSBootstrap does), waits for an
/// administrator to approve it, and writes kubelet-server-DATE.pem and kubelet-server-current.pem.
/// </summary>
[Cmdlet(VerbsLifecycle.Request, "KubeletCertificate", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ClientSet)]
[OutputType(typeof(KubeletCertificateRequestInfo))]
public sealed class RequestKubeletCertificateCommand : KubeletCmdlet
{
    private const string ClientSet = "Client";
    private const string ServingSet = "Serving";

    /// <summary>The kubeconfig whose credentials may create CSRs (kubelet --bootstrap-kubeconfig).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = ClientSet)]
    [Alias("BootstrapKubeconfig")]
    public string BootstrapKubeconfigPath { get; set; } = "";

    /// <summary>Request a kubelet-serving certificate (signer kubernetes.io/kubelet-serving) with kubelet.conf's credentials.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ServingSet)]
    public SwitchParameter Serving { get; set; }

    /// <summary>The serving certificate's IP address SANs; by default the node's address.</summary>
    [Parameter(ParameterSetName = ServingSet)]
    [ValidateNotNullOrEmpty]
    public string[] IPAddress { get; set; } = [];

    /// <summary>The serving certificate's DNS name SANs; by default the node name and the host name.</summary>
    [Parameter(ParameterSetName = ServingSet)]
    [ValidateNotNullOrEmpty]
    public string[] DnsName { get; set; } = [];

    /// <summary>The kubeconfig to check and write (kubelet --kubeconfig); with -Serving, the node credentials that request the certificate.</summary>
    [Parameter]
    public string KubeconfigPath { get; set; } = Core.Configuration.KubeletConfigLoader.DefaultKubeconfigPath;

    /// <summary>Where the certificate and key files live (kubelet --cert-dir).</summary>
    [Parameter]
    public string CertificateDirectory { get; set; } = Core.Configuration.KubeletConfigurationDefaults.DefaultCertificateDirectory;

    /// <summary>The node name; by default the host name, as kubelet determines it.</summary>
    [Parameter]
    public string? NodeName { get; set; }

    /// <summary>How long to wait for the CSR to be approved and issued (kubelet: 3600 s).</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 3600;

    /// <summary>Bootstrap even when the current client certificate is valid.</summary>
    [Parameter(ParameterSetName = ClientSet)]
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
        if (Serving)
        {
            RequestServing(nodeName);
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
                    return await bootstrap.BootstrapAsync(options with { Force = true }, p => PostStep(activity, p.Message, p.CsrName ?? ""), ct).ConfigureAwait(false);
                }
                finally
                {
                    PostDone(activity);
                }
            });
            if (result is not null) WriteObject(new KubeletCertificateRequestInfo(result));
        }
        catch (Exception e) when (Failure(e, nodeName) is { } error)
        {
            ThrowTerminatingError(error);
        }
    }

    /// <summary>-Serving: one kubelet-serving CSR through the engine's certificate manager (as serverTLSBootstrap), waiting for an administrator.</summary>
    private void RequestServing(string nodeName)
    {
        const string prefix = ErrorIds.RequestKubeletCertificate;
        KubeletCertificateRenewalOptions options;
        try
        {
            var addresses = IPAddress.Select(ParseAddress).ToList();
            if (addresses.Count == 0 && new Core.Node.MachineInfoReader().DetectNodeIp() is { } detected) addresses.Add(System.Net.IPAddress.Parse(detected));
            var names = DnsName.Length > 0 ? DnsName.ToList() : new[] { nodeName, System.Net.Dns.GetHostName().ToLowerInvariant() }.Distinct(StringComparer.Ordinal).ToList();
            options = new KubeletCertificateRenewalOptions
            {
                KubeconfigPath = ResolveLiteralPath(KubeconfigPath),
                CertificateDirectory = ResolveLiteralPath(CertificateDirectory),
                NodeName = nodeName,
                Kind = KubeletCertificateKind.Serving,
                DnsNames = names,
                IpAddresses = addresses,
                WaitTimeout = TimeSpan.FromSeconds(TimeoutSec),
            };
        }
        catch (KubeletException e)
        {
            ThrowTerminatingError(EngineError(e, prefix + "InvalidArgument", e.Target ?? NodeName));
            return;
        }
        var sans = string.Join(", ", options.DnsNames.Concat(options.IpAddresses.Select(a => a.ToString())));
        if (!ShouldProcess($"Node {nodeName}: {options.CertificateDirectory}",
                $"Send a kubelet-serving certificate signing request for {sans} with {options.KubeconfigPath} and write kubelet-server-current.pem"))
            return;
        var activity = $"Requesting a serving certificate for node {nodeName}";
        try
        {
            var rotation = RunOnPipeline(async ct =>
            {
                try
                {
                    return await KubeletCertificateRenewal.RenewAsync(options, Log, p => PostStep(activity,
                        p.Stage == CertificateBootstrapStage.WaitingForApproval && p.CsrName is { } csr
                            ? $"{p.Message} An administrator must approve it: kubectl certificate approve {csr}"
                            : p.Message,
                        p.CsrName ?? ""), ct).ConfigureAwait(false);
                }
                finally
                {
                    PostDone(activity);
                }
            });
            WriteObject(new KubeletCertificateRequestInfo(rotation, options.KubeconfigPath));
        }
        catch (Exception e) when (Failure(e, nodeName) is { } error)
        {
            ThrowTerminatingError(error);
        }
    }

    private static System.Net.IPAddress ParseAddress(string text) =>
        System.Net.IPAddress.TryParse(text, out var address) ? address
            : throw new KubeletException($"'{text}' is not an IP address (-IPAddress).", KubeletErrorKind.InvalidArgument, text);

    /// <summary>The ErrorRecord for an engine failure of either request; null for exceptions that are not ours.</summary>
    private static ErrorRecord? Failure(Exception exception, string nodeName)
    {
        const string prefix = ErrorIds.RequestKubeletCertificate;
        return exception switch
        {
            CertificateBootstrapException e => EngineError(e, prefix + e.Problem, e.CsrName ?? e.Target),
            KubeletConfigException e => EngineError(e, prefix + ErrorIds.InvalidKubeconfig, e.Path),
            CertificateException e => EngineError(e, prefix + CertificateErrorIds.For(e), e.Target),
            KubeletApiException e => EngineError(e, prefix + ErrorIds.ApiRequestFailed, e.Target),
            OperationCanceledException e => EngineError(e, prefix + "Stopped", nodeName),
            KubeletException { Category: KubeletErrorKind.Authentication } e => EngineError(e, prefix + "CredentialsUnusable", e.Target ?? nodeName),
            KubeletException or IOException or UnauthorizedAccessException => EngineError(exception, prefix + "Failed", nodeName),
            _ => null,
        };
    }
}
