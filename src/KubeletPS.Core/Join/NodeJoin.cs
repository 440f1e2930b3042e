using System.Net;
using System.Text.Json;
using KubeletPS.Core.Api;
using KubeletPS.Core.Certificates.Bootstrap;
using KubeletPS.Core.Certificates.Rotation;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Configuration.Clientcmd;

namespace KubeletPS.Core.Join;

/// <summary>What joining writes, where (kubeadm's paths by default; the others follow the kubeconfig's and config's folders).</summary>
public sealed record NodeJoinOptions
{
    public required string NodeName { get; init; }
    /// <summary>kubelet.conf, written by TLS bootstrap.</summary>
    public string KubeconfigPath { get; init; } = KubeletConfigLoader.DefaultKubeconfigPath;
    /// <summary>config.yaml, from the kubelet-config ConfigMap (or kubeadm's defaults).</summary>
    public string ConfigPath { get; init; } = KubeletConfigLoader.DefaultConfigPath;
    public string CertificateDirectory { get; init; } = KubeletConfigurationDefaults.DefaultCertificateDirectory;
    /// <summary>How long TLS bootstrap waits for the CSR to be issued (kubeadm: timeouts.tlsBootstrap, 5 minutes).</summary>
    public TimeSpan TlsBootstrapTimeout { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>Overwrite the files of an earlier join.</summary>
    public bool Force { get; init; }

    /// <summary>bootstrap-kubelet.conf beside kubelet.conf (/etc/kubernetes/bootstrap-kubelet.conf).</summary>
    public string BootstrapKubeconfigPath => Path.Combine(Folder(KubeconfigPath), "bootstrap-kubelet.conf");

    /// <summary>pki/ca.crt beside kubelet.conf (/etc/kubernetes/pki/ca.crt).</summary>
    public string CACertPath => Path.Combine(Folder(KubeconfigPath), "pki", "ca.crt");

    /// <summary>kubeadm-flags.env beside config.yaml (/var/lib/kubelet/kubeadm-flags.env).</summary>
    public string FlagsEnvPath => Path.Combine(Folder(ConfigPath), "kubeadm-flags.env");

    private static string Folder(string path) => Path.GetDirectoryName(Path.GetFullPath(path))!;
}

/// <summary>What joining wrote.</summary>
public sealed record NodeJoinResult(
    string NodeName,
    string Server,
    string CACertHash,
    string CertificateAuthoritySubject,
    bool CAPinned,
    string KubeconfigPath,
    string ConfigPath,
    bool ConfigFromCluster,
    string CACertPath,
    bool CACertWritten,
    string FlagsEnvPath,
    string CertificatePath,
    string? CertificateFile,
    string? CsrName,
    DateTimeOffset? CertificateNotAfter);

/// <summary>
/// kubeadm join's node half (the kubelet-start phase, with KubeletPS's TLS bootstrap standing in for the kubelet's):
/// from a <see cref="DiscoveredCluster"/>, write the bootstrap kubeconfig and the CA, download the kubelet-config
/// ConfigMap with the token into config.yaml, write kubeadm-flags.env, refuse a Ready node of the same name, bootstrap
/// the client certificate into kubelet.conf, and remove the bootstrap kubeconfig (the token leaves the disk), as kubeadm does.
/// </summary>
public sealed class NodeJoin(TimeProvider? time = null)
{
    public const string KubeletConfigMapPath = "/api/v1/namespaces/kube-system/configmaps/kubelet-config";
    public const string KubeletConfigMapKey = "kubelet";

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>kubeadm join's preflight FileAvailable checks: null when nothing of an earlier join is in the way.</summary>
    public static string? PreflightProblem(NodeJoinOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Force) return null;
        var present = new[] { options.KubeconfigPath, options.BootstrapKubeconfigPath, options.CACertPath }.Select(Path.GetFullPath).Where(File.Exists).ToList();
        return present.Count == 0 ? null
            : $"{string.Join(", ", present)} already exist{(present.Count == 1 ? "s" : "")}: this node has joined a cluster before; remove the files (kubeadm reset) or give -Force to overwrite them.";
    }

    public async Task<NodeJoinResult> JoinAsync(DiscoveredCluster cluster, BootstrapTokenString token, NodeJoinOptions options, Action<string>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(token);
        ArgumentNullException.ThrowIfNull(options);
        if (PreflightProblem(options) is { } problem) throw new JoinException(JoinProblem.AlreadyJoined, problem, Path.GetFullPath(options.KubeconfigPath));
        var bootstrapPath = Path.GetFullPath(options.BootstrapKubeconfigPath);
        var caPath = Path.GetFullPath(options.CACertPath);
        var configPath = Path.GetFullPath(options.ConfigPath);
        try
        {
            progress?.Invoke($"Writing the bootstrap kubeconfig {bootstrapPath} (server {cluster.Server}, token {token.Masked}).");
            KubeletCertificateStore.WritePrivateFileAtomically(bootstrapPath, JoinFiles.RenderBootstrapKubeconfig(cluster.Server, cluster.CertificateAuthorityPem, token));
            var caWritten = !File.Exists(caPath) || options.Force;
            if (caWritten)
            {
                progress?.Invoke($"Writing the cluster CA {caPath} ({cluster.CACertHash}).");
                JoinFiles.WritePublicFileAtomically(caPath, cluster.CertificateAuthorityPem.TrimEnd() + "\n");
            }
            var bootstrap = await KubeconfigLoader.LoadAsync(bootstrapPath, null, null, cancellationToken).ConfigureAwait(false);

            await RefuseReadyNodeOfSameNameAsync(bootstrap, token, options.NodeName, cancellationToken).ConfigureAwait(false);

            progress?.Invoke("Downloading the kubelet configuration from the kubelet-config ConfigMap in kube-system.");
            var fromCluster = await DownloadKubeletConfigurationAsync(bootstrap, token, cancellationToken).ConfigureAwait(false);
            progress?.Invoke(fromCluster is null
                ? $"The cluster has no kubelet-config ConfigMap; writing kubeadm's kubelet defaults to {configPath}."
                : $"Writing the cluster's kubelet configuration to {configPath}.");
            JoinFiles.WritePublicFileAtomically(configPath, fromCluster ?? JoinFiles.KubeadmDefaultKubeletConfiguration(caPath, File.Exists("/run/systemd/resolve/resolv.conf")));
            JoinFiles.WritePublicFileAtomically(options.FlagsEnvPath, JoinFiles.RenderFlagsEnv(options.NodeName, System.Net.Dns.GetHostName()));

            progress?.Invoke($"TLS bootstrap: requesting the client certificate of node {options.NodeName} with token {token.Masked}.");
            CertificateBootstrapResult issued;
            try
            {
                issued = await new NodeCertificateBootstrap(_time).BootstrapAsync(new CertificateBootstrapOptions
                {
                    BootstrapKubeconfigPath = bootstrapPath,
                    KubeconfigPath = options.KubeconfigPath,
                    CertificateDirectory = options.CertificateDirectory,
                    NodeName = options.NodeName,
                    Force = true,
                    WaitTimeout = options.TlsBootstrapTimeout,
                }, p => progress?.Invoke(p.Message), cancellationToken).ConfigureAwait(false);
            }
            catch (CertificateBootstrapException e) when (e.Problem == CertificateBootstrapProblem.Unauthorized)
            {
                throw TokenRefused(cluster.Server, token, e);
            }
            return new NodeJoinResult(options.NodeName, cluster.Server, cluster.CACertHash, cluster.CertificateAuthoritySubject, cluster.CAPinned,
                issued.KubeconfigPath, configPath, fromCluster is not null, caPath, caWritten, Path.GetFullPath(options.FlagsEnvPath),
                issued.CertificatePath ?? "", issued.CertificateFile, issued.CsrName, issued.NotAfter);
        }
        finally
        {
            // kubeadm removes the bootstrap kubeconfig whatever happened, so the token does not stay on disk.
            File.Delete(bootstrapPath);
        }
    }

    /// <summary>The kubelet-config ConfigMap's KubeletConfiguration, or null when the cluster has none (404).</summary>
    private static async Task<string?> DownloadKubeletConfigurationAsync(Kubeconfig bootstrap, BootstrapTokenString token, CancellationToken cancellationToken)
    {
        var response = await ApiRequester.SendAsync(bootstrap, new ApiRequestOptions { Path = KubeletConfigMapPath }, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == (int)HttpStatusCode.NotFound) return null;
        if (response.StatusCode == (int)HttpStatusCode.Unauthorized) throw TokenRefused(bootstrap.Server, token, null);
        if (!response.IsSuccess)
        {
            throw new JoinException(JoinProblem.KubeletConfigInvalid,
                $"failed to download the kubelet configuration from the kubelet-config ConfigMap: {response.StatusMessage ?? response.ReasonPhrase} ({response.StatusCode})", "kube-system/kubelet-config");
        }
        try
        {
            using var document = JsonDocument.Parse(response.Body);
            if (document.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
                && data.TryGetProperty(KubeletConfigMapKey, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text)
            {
                // Refuse what the agent could not read, before it becomes the node's configuration.
                KubeletConfigurationFile.Parse(text, "the kubelet-config ConfigMap (kube-system)", null, out _);
                return text;
            }
        }
        catch (KubeletConfigException e)
        {
            throw new JoinException(JoinProblem.KubeletConfigInvalid, $"the kubelet-config ConfigMap does not hold a usable KubeletConfiguration: {e.Message}", "kube-system/kubelet-config", e);
        }
        catch (JsonException e)
        {
            throw new JoinException(JoinProblem.KubeletConfigInvalid, $"the kubelet-config ConfigMap is not JSON: {e.Message}", "kube-system/kubelet-config", e);
        }
        throw new JoinException(JoinProblem.KubeletConfigInvalid, "the kubelet-config ConfigMap has no \"kubelet\" key with a KubeletConfiguration", "kube-system/kubelet-config");
    }

    /// <summary>kubeadm refuses to take over the name of a node that is Ready (it could be a control-plane node).</summary>
    private static async Task RefuseReadyNodeOfSameNameAsync(Kubeconfig bootstrap, BootstrapTokenString token, string nodeName, CancellationToken cancellationToken)
    {
        var response = await ApiRequester.SendAsync(bootstrap, new ApiRequestOptions { Path = "/api/v1/nodes/" + Uri.EscapeDataString(nodeName) }, cancellationToken)
            .ConfigureAwait(false);
        if (response.StatusCode == (int)HttpStatusCode.NotFound) return;
        if (response.StatusCode == (int)HttpStatusCode.Unauthorized) throw TokenRefused(bootstrap.Server, token, null);
        if (!response.IsSuccess)
            throw new JoinException(JoinProblem.NodeExists, $"cannot get Node \"{nodeName}\": {response.StatusMessage ?? response.ReasonPhrase} ({response.StatusCode})", nodeName);
        using var document = JsonDocument.Parse(response.Body);
        if (document.RootElement.TryGetProperty("status", out var status) && status.TryGetProperty("conditions", out var conditions)
            && conditions.ValueKind == JsonValueKind.Array
            && conditions.EnumerateArray().Any(c => c.TryGetProperty("type", out var t) && t.GetString() == "Ready" && c.TryGetProperty("status", out var s) && s.GetString() == "True"))
        {
            throw new JoinException(JoinProblem.NodeExists,
                $"a Node with name \"{nodeName}\" and status \"Ready\" already exists in the cluster. You must delete the existing Node or change the name of this new joining Node", nodeName);
        }
    }

    private static JoinException TokenRefused(string server, BootstrapTokenString token, Exception? inner) => new(JoinProblem.TokenRefused,
        $"The API server {server} refused the bootstrap token {token.Masked} (401 Unauthorized): it has expired or been deleted. " +
        "Create a new one on a control-plane node (kubeadm token create --print-join-command) and join again.", token.Masked, inner);
}
