using System.Management.Automation;
using KubeletPS.Core.Configuration.Clientcmd;

namespace KubeletPS.Commands;

/// <summary>
/// Base of the cmdlets that talk to the API server as curl would, with the server, CA and credentials of a
/// kubeconfig (Invoke-KubeletApiRequest, Test-KubeletApiConnection): -Context, -TimeoutSec and
/// -SkipCertificateCheck mean the same to both, and the kubeconfig is read the same way.
/// </summary>
public abstract class KubeletApiCmdlet : KubeletCmdlet
{
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Context { get; set; }

    [Parameter]
    [ValidateRange(1, 3600)]
    public int TimeoutSec { get; set; } = 10;

    [Parameter]
    public SwitchParameter SkipCertificateCheck { get; set; }

    /// <summary>The kubeconfig at <paramref name="path"/> with <see cref="Context"/> (else its current context); a file that cannot be used throws KubeletConfigException.</summary>
    private protected Task<Kubeconfig> LoadKubeconfigAsync(string path, CancellationToken cancellationToken) =>
        KubeconfigLoader.LoadAsync(path, Context, null, cancellationToken);
}
