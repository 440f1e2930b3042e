using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.NodeValidation;

/// <summary>
/// The runtime as kubelet needs it: the CRI socket answers Version, Status reports
/// RuntimeReady and NetworkReady (kubelet's node Ready condition depends on both), and the
/// runtime's sandbox image is on the node (every pod's sandbox runs it).
/// </summary>
public static class NodeRuntimeChecker
{
    public const string CriSocketReachable = "CriSocketReachable";
    public const string RuntimeReady = "RuntimeReady";
    public const string NetworkReady = "NetworkReady";
    public const string SandboxImagePresent = "SandboxImagePresent";

    public static async Task<IReadOnlyList<NodeCheckResult>> CheckAsync(IRuntimeService runtime, IImageService images, RuntimeConfigReport config, CancellationToken cancellationToken)
    {
        RuntimeVersionInfo version;
        try
        {
            version = await runtime.VersionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (KubeletRuntimeException e)
        {
            var because = $"the runtime at {runtime.Endpoint} did not answer (see {CriSocketReachable}).";
            return
            [
                NodeCheckResult.Fail(CriSocketReachable, $"{e.Message}: start the container runtime ('systemctl start containerd') or set containerRuntimeEndpoint in config.yaml to its socket."),
                NodeCheckResult.Skip(RuntimeReady, because),
                NodeCheckResult.Skip(NetworkReady, because),
                NodeCheckResult.Skip(SandboxImagePresent, because),
            ];
        }

        var results = new List<NodeCheckResult>
        {
            NodeCheckResult.Pass(CriSocketReachable, $"{version.RuntimeName} {version.RuntimeVersion} (CRI {version.RuntimeApiVersion}) answers at {runtime.Endpoint}."),
        };
        try
        {
            var status = await runtime.StatusAsync(cancellationToken).ConfigureAwait(false);
            results.Add(Condition(status, RuntimeReady, "check the runtime's log ('journalctl -u containerd') and restart it"));
            results.Add(Condition(status, NetworkReady, "install a CNI network plugin and its configuration (/etc/cni/net.d, plugins in /opt/cni/bin) and restart containerd"));
        }
        catch (KubeletRuntimeException e)
        {
            results.Add(NodeCheckResult.Fail(RuntimeReady, $"{e.Message}: check the runtime's log ('journalctl -u containerd')."));
            results.Add(NodeCheckResult.Skip(NetworkReady, $"the runtime's Status call failed (see {RuntimeReady})."));
        }
        results.Add(await CheckSandboxImageAsync(images, config, cancellationToken).ConfigureAwait(false));
        return results;
    }

    private static NodeCheckResult Condition(RuntimeStatusInfo status, string type, string fix)
    {
        var condition = status.Find(type);
        if (condition is null)
        {
            return NodeCheckResult.Fail(type, $"the runtime reports no {type} condition: {fix}.");
        }
        return condition.Status
            ? NodeCheckResult.Pass(type, $"{type} is true.")
            : NodeCheckResult.Fail(type, $"{type} is false (reason: {condition.Reason}, message: {condition.Message}): {fix}.");
    }

    private static async Task<NodeCheckResult> CheckSandboxImageAsync(IImageService images, RuntimeConfigReport config, CancellationToken cancellationToken)
    {
        if (config.Error is not null || config.SandboxImage is null)
        {
            return NodeCheckResult.Skip(SandboxImagePresent, config.Error ?? "the runtime does not report its sandbox image (no sandboxImage in its Status info).");
        }
        try
        {
            var image = await images.ImageStatusAsync(config.SandboxImage, cancellationToken).ConfigureAwait(false);
            return image is not null
                ? NodeCheckResult.Pass(SandboxImagePresent, $"the sandbox image {config.SandboxImage} is on the node ({image.Id}).")
                : NodeCheckResult.Fail(SandboxImagePresent,
                    $"the sandbox image {config.SandboxImage} is not on the node, so no pod can start offline: pull it ('crictl pull {config.SandboxImage}' or 'ctr -n k8s.io images pull {config.SandboxImage}').");
        }
        catch (KubeletRuntimeException e)
        {
            return NodeCheckResult.Fail(SandboxImagePresent, $"{e.Message}: the sandbox image {config.SandboxImage} could not be looked up.");
        }
    }
}
