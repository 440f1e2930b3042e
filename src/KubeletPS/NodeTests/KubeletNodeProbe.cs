using KubeletPS.Core.NodeValidation;
using KubeletPS.Output;

namespace KubeletPS.NodeTests;

/// <summary>
/// What Test-KubeletNode hands each of its Pester test files (container Data "Node"): the
/// node's files and runtime endpoint, and the checks that read the machine and the runtime
/// directly. Those run when a group asks for them, so a group filtered out costs nothing.
/// </summary>
public sealed class KubeletNodeProbe
{
    internal KubeletNodeProbe(string? configPath, string kubeconfigPath, string? runtimeEndpoint, string? nodeName)
    {
        ConfigPath = configPath;
        KubeconfigPath = kubeconfigPath;
        RuntimeEndpoint = runtimeEndpoint;
        NodeName = nodeName;
    }

    /// <summary>The kubelet configuration file given; null means the node's /var/lib/kubelet/config.yaml when it exists.</summary>
    public string? ConfigPath { get; }

    /// <summary>The kubelet's kubeconfig (default /etc/kubernetes/kubelet.conf).</summary>
    public string KubeconfigPath { get; }

    /// <summary>The CRI endpoint given; null means the configuration's containerRuntimeEndpoint.</summary>
    public string? RuntimeEndpoint { get; }

    /// <summary>The node name given; null means each cmdlet's own default (the certificate's node, the host name).</summary>
    public string? NodeName { get; }

    /// <summary>kubeadm join's node checks and the cgroup driver check.</summary>
    public KubeletNodeCheck[] TestPreflight() => Run("Preflight", async ct =>
        await NodeValidator.PreflightAsync(await Target(ct).ConfigureAwait(false), NodeHost.Current, ct).ConfigureAwait(false));

    /// <summary>The CRI socket, the runtime's Ready conditions and its sandbox image.</summary>
    public KubeletNodeCheck[] TestRuntime() => Run("Runtime", async ct =>
        await NodeValidator.RuntimeAsync(await Target(ct).ConfigureAwait(false), ct).ConfigureAwait(false));

    private Task<NodeValidationTarget> Target(CancellationToken cancellationToken) =>
        NodeValidationTarget.ResolveAsync(ConfigPath, RuntimeEndpoint, cancellationToken);

    // Called from a test script on the pipeline thread; the engine's calls carry their own deadlines.
    private static KubeletNodeCheck[] Run(string group, Func<CancellationToken, Task<IReadOnlyList<NodeCheckResult>>> checks) =>
        Task.Run(() => checks(CancellationToken.None)).GetAwaiter().GetResult()
            .Select(r => new KubeletNodeCheck(group, r)).ToArray();
}
