using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Api;
using KubeletPS.Core.Configuration;

namespace KubeletPS.Commands;

/// <summary>
/// The parameters the node cmdlets share (kubelet's --kubeconfig, --config, --hostname-override,
/// --node-labels, --register-with-taints, --node-ip, --root-dir) and how they become engine input.
/// </summary>
public abstract class NodeAgentCmdlet : KubeletCmdlet
{
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string KubeconfigPath { get; set; } = KubeletConfigLoader.DefaultKubeconfigPath;

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Path")]
    [ValidateNotNullOrEmpty]
    public string? ConfigPath { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Context { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? RuntimeEndpoint { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string RootDirectory { get; set; } = KubeletConfigurationDefaults.DefaultRootDirectory;

    protected abstract string? NodeNameParameter { get; }

    protected virtual IReadOnlyList<string> LabelParameter => [];

    protected virtual IReadOnlyList<string> TaintParameter => [];

    protected virtual string? NodeIpParameter => null;

    protected NodeAgentRequest BuildRequest() => new()
    {
        KubeconfigPath = ResolveLiteralPath(KubeconfigPath),
        ConfigPath = ConfigPath is null ? null : ResolveLiteralPath(ConfigPath),
        Context = Context,
        NodeName = NodeNameParameter,
        Labels = LabelParameter,
        Taints = TaintParameter,
        NodeIp = NodeIpParameter,
        RuntimeEndpoint = RuntimeEndpoint,
        RootDirectory = ResolveLiteralPath(RootDirectory),
    };

    /// <summary>Terminating ErrorRecords for what goes wrong while composing or talking to the API server.</summary>
    protected static ErrorRecord NodeError(Exception e, string errorIdPrefix) => e switch
    {
        KubeletConfigException c => EngineError(c, errorIdPrefix + "InvalidConfiguration", c.Path),
        Core.Certificates.Bootstrap.CertificateBootstrapException b => EngineError(b, errorIdPrefix + "Bootstrap" + b.Problem, b.CsrName ?? b.Target),
        KubeletApiException a => EngineError(a, errorIdPrefix + "ApiRequestFailed", a.Target),
        KubeletException k when k.Category == KubeletErrorKind.InvalidArgument => EngineError(k, errorIdPrefix + "InvalidArgument", k.Target),
        KubeletException k => EngineError(k, errorIdPrefix + "Failed", k.Target),
        OperationCanceledException => EngineError(e, errorIdPrefix + "Stopped", null),
        _ => EngineError(e, errorIdPrefix + "Failed", null),
    };
}
