using System.Management.Automation;

namespace KubeletPS.Commands;

/// <summary>
/// The certificate cmdlets' shared inputs: a certificate or bundle by -Path (wildcards) or
/// -LiteralPath, its key by -KeyPath when it is a separate file, or (the default set) the client
/// certificate the kubelet's kubeconfig names.
/// </summary>
public abstract class KubeletCertificateCmdlet : KubeletCmdlet
{
    protected const string PathSet = "Path";
    protected const string LiteralPathSet = "LiteralPath";
    protected const string KubeconfigSet = "Kubeconfig";

    [Parameter(ParameterSetName = PathSet, Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(ParameterSetName = LiteralPathSet, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    [ValidateNotNullOrEmpty]
    public string? KeyPath { get; set; }
}
