using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Api;
using KubeletPS.Core.Certificates.Bootstrap;
using KubeletPS.Core.Join;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// Join-KubeletCluster: kubeadm join's node half. Discovers the cluster CA from the signed cluster-info ConfigMap (pinned
/// with -CACertHash), writes the bootstrap kubeconfig and ca.crt, config.yaml from the kubelet-config ConfigMap,
/// kubeadm-flags.env, bootstraps the client certificate into kubelet.conf, and with -Install installs and starts the service.
/// </summary>
[Cmdlet(VerbsCommon.Join, "KubeletCluster", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(KubeletJoinInfo))]
public sealed class JoinKubeletClusterCommand : KubeletCmdlet
{
    private const string Prefix = nameof(ErrorIds.JoinKubeletCluster);

    /// <summary>The API server endpoint, host:port (kubeadm join's first argument).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("ApiServerEndpoint")]
    [ValidateNotNullOrEmpty]
    public string Server { get; set; } = "";

    /// <summary>The bootstrap token, ID.SECRET (kubeadm join --token).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [BootstrapTokenArgument]
    public string Token { get; set; } = "";

    /// <summary>The cluster CA's public key pins, sha256:HEX (kubeadm join --discovery-token-ca-cert-hash).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("DiscoveryTokenCACertHash")]
    [CACertHashArgument]
    public string[] CACertHash { get; set; } = [];

    /// <summary>Trust the signed cluster-info without a CA pin (kubeadm --discovery-token-unsafe-skip-ca-verification).</summary>
    [Parameter]
    public SwitchParameter UnsafeSkipCAVerification { get; set; }

    /// <summary>The node name; by default the host name, as kubelet determines it.</summary>
    [Parameter]
    public string? NodeName { get; set; }

    /// <summary>kubelet.conf to write; bootstrap-kubelet.conf and pki/ca.crt go beside it.</summary>
    [Parameter]
    public string KubeconfigPath { get; set; } = Core.Configuration.KubeletConfigLoader.DefaultKubeconfigPath;

    /// <summary>config.yaml to write; kubeadm-flags.env goes beside it.</summary>
    [Parameter]
    public string ConfigPath { get; set; } = Core.Configuration.KubeletConfigLoader.DefaultConfigPath;

    /// <summary>Where the client certificate and key are written (kubelet --cert-dir).</summary>
    [Parameter]
    public string CertificateDirectory { get; set; } = Core.Configuration.KubeletConfigurationDefaults.DefaultCertificateDirectory;

    /// <summary>How long to wait for a signed cluster-info (kubeadm: 5 minutes).</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int DiscoveryTimeoutSec { get; set; } = 300;

    /// <summary>How long to wait for the client certificate to be issued (kubeadm: 5 minutes).</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; } = 300;

    /// <summary>Install the agent as a systemd service and start it, as Install-KubeletService -Start does.</summary>
    [Parameter]
    public SwitchParameter Install { get; set; }

    /// <summary>The unit's name with -Install.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string ServiceName { get; set; } = "kubeletps";

    /// <summary>Overwrite the files of an earlier join (and, with -Install, a different unit of that name).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        string nodeName;
        BootstrapTokenString token;
        ClusterInfoDiscoveryOptions discovery;
        try
        {
            nodeName = Core.Node.NodeName.Resolve(NodeName);
            token = BootstrapTokenString.Parse(Token);
            discovery = new ClusterInfoDiscoveryOptions
            {
                ApiServerEndpoint = ClusterInfoDiscovery.NormalizeEndpoint(Server),
                Token = token,
                CACertHashes = CACertHash,
                UnsafeSkipCAVerification = UnsafeSkipCAVerification,
                Timeout = TimeSpan.FromSeconds(DiscoveryTimeoutSec),
            };
        }
        catch (KubeletException e)
        {
            ThrowTerminatingError(EngineError(e, Prefix + "InvalidArgument", e.Target));
            return;
        }
        if (CACertHash.Length == 0 && !UnsafeSkipCAVerification)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(
                "Using token-based discovery without -CACertHash is unsafe: give -CACertHash sha256:<hex> (kubeadm token create --print-join-command prints it), " +
                "or -UnsafeSkipCAVerification to trust the cluster-info signature alone."), Prefix + "CACertHashRequired", ErrorCategory.InvalidArgument, "CACertHash"));
            return;
        }
        if (UnsafeSkipCAVerification && CACertHash.Length == 0)
            WriteWarning("-UnsafeSkipCAVerification: the cluster CA is trusted on the token's signature alone; anyone who knows the token can impersonate the API server.");
        var options = new NodeJoinOptions
        {
            NodeName = nodeName,
            KubeconfigPath = ResolveLiteralPath(KubeconfigPath),
            ConfigPath = ResolveLiteralPath(ConfigPath),
            CertificateDirectory = ResolveLiteralPath(CertificateDirectory),
            TlsBootstrapTimeout = TimeSpan.FromSeconds(TimeoutSec),
            Force = Force,
        };
        if (NodeJoin.PreflightProblem(options) is { } preflight)
        {
            ThrowTerminatingError(new ErrorRecord(new InvalidOperationException(preflight), Prefix + nameof(JoinProblem.AlreadyJoined),
                ErrorCategory.ResourceExists, options.KubeconfigPath));
            return;
        }
        var service = Install ? ServiceRequest(options) : null;

        var activity = $"Joining node {nodeName} to {discovery.ApiServerEndpoint}";
        NodeJoinResult? result;
        try
        {
            result = RunOnPipeline(async ct =>
            {
                void Report(string message) => PostStep(activity, message);
                try
                {
                    var cluster = await new ClusterInfoDiscovery().DiscoverAsync(discovery, Report, ct).ConfigureAwait(false);
                    Post(() => WriteVerbose($"Discovered {cluster.Server}, CA {cluster.CertificateAuthoritySubject} ({cluster.CACertHash})."));
                    if (!await AskAsync($"Node {nodeName}: {options.KubeconfigPath}, {options.ConfigPath}, {options.CACertPath}, {options.CertificateDirectory}",
                            $"Join the cluster at {cluster.Server} (CA {cluster.CACertHash}) with token {token.Masked}").ConfigureAwait(false))
                        return null;
                    return await new NodeJoin().JoinAsync(cluster, token, options, Report, ct).ConfigureAwait(false);
                }
                finally
                {
                    PostDone(activity);
                }
            });
        }
        catch (JoinException e)
        {
            ThrowTerminatingError(EngineError(e, Prefix + e.Problem, e.Target ?? discovery.ApiServerEndpoint));
            return;
        }
        catch (CertificateBootstrapException e)
        {
            ThrowTerminatingError(EngineError(e, Prefix + e.Problem, e.CsrName ?? e.Target));
            return;
        }
        catch (KubeletApiException e)
        {
            ThrowTerminatingError(EngineError(e, Prefix + ErrorIds.ApiRequestFailed, e.Target));
            return;
        }
        catch (OperationCanceledException e)
        {
            ThrowTerminatingError(EngineError(e, Prefix + "Stopped", nodeName));
            return;
        }
        catch (Exception e) when (e is KubeletException or IOException or UnauthorizedAccessException)
        {
            ThrowTerminatingError(EngineError(e, Prefix + "Failed", (e as KubeletException)?.Target ?? nodeName));
            return;
        }
        if (result is null) return;

        bool? active = null;
        if (service is not null && ShouldProcess($"{service.Name}.service ({service.UnitPath})", "Install, enable and start the KubeletPS agent service"))
        {
            try
            {
                var changed = SystemdService.WriteUnit(service, Force);
                WriteVerbose(changed ? $"Wrote {service.UnitPath}." : $"{service.UnitPath} already has this content.");
                SystemdService.Enable(service.Name, start: true, changed);
                active = SystemdService.State(service.Name).Active;
            }
            catch (KubeletException e)
            {
                // The node has joined; the files stay. Say what is left to do.
                ThrowTerminatingError(EngineError(new KubeletException(
                    $"The node joined ({result.KubeconfigPath} is written) but the service was not installed: {e.Message} Run Install-KubeletService -Start once it is fixed.",
                    e.Category, e.Target, e), Prefix + "InstallFailed", e.Target ?? service.UnitPath));
            }
        }
        WriteObject(new KubeletJoinInfo(result, service?.Name, active));
    }

    /// <summary>What Install-KubeletService would install for these files, checked before anything is joined.</summary>
    private SystemdServiceRequest? ServiceRequest(NodeJoinOptions options)
    {
        if (!SystemdService.SystemdRunning)
        {
            var init = File.Exists("/proc/1/comm") ? File.ReadAllText("/proc/1/comm").Trim() : "unknown";
            ThrowTerminatingError(new ErrorRecord(new InvalidOperationException(
                $"-Install needs systemd, but this machine's PID 1 is '{init}' (no /run/systemd/system). Join without -Install and run Start-KubeletAgent under your init system."),
                Prefix + "SystemdNotRunning", ErrorCategory.NotImplemented, "/run/systemd/system"));
            return null;
        }
        var manifest = AgentServiceFiles.ModuleManifest(this, Prefix, "Join-KubeletCluster -Install");
        var pwsh = AgentServiceFiles.Pwsh(this, Prefix, null, "join without -Install and install the unit with Install-KubeletService -PwshPath");
        return new SystemdServiceRequest
        {
            Name = ServiceName,
            PwshPath = pwsh,
            ModuleManifestPath = manifest,
            ConfigPath = options.ConfigPath,
            KubeconfigPath = options.KubeconfigPath,
            NodeName = options.NodeName,
            DotnetRoot = SystemdService.DotnetRootFor(Environment.ProcessPath),
        };
    }
}
