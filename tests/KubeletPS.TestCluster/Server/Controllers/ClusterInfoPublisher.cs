using System.Text;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Server.Controllers;

/// <summary>
/// What kubeadm init publishes for joining nodes: the cluster-info ConfigMap in kube-public (a kubeconfig with the
/// server and the CA, no credentials, readable by system:anonymous; phases/bootstraptoken/clusterinfo) and, when asked,
/// the kubelet-config ConfigMap in kube-system (key "kubelet": the cluster's KubeletConfiguration; phases/uploadconfig).
/// A test can have the server answer as a man in the middle would: cluster-info carrying another CA.
/// </summary>
public static class ClusterInfoPublisher
{
    public const string KubeletConfigMapName = "kubelet-config";
    public const string KubeletConfigMapKey = "kubelet";

    /// <summary>A KubeletConfiguration as kubeadm init uploads it with default settings.</summary>
    public const string KubeadmKubeletConfiguration = """
        apiVersion: kubelet.config.k8s.io/v1beta1
        authentication:
          anonymous:
            enabled: false
          webhook:
            cacheTTL: 0s
            enabled: true
          x509:
            clientCAFile: /etc/kubernetes/pki/ca.crt
        authorization:
          mode: Webhook
          webhook:
            cacheAuthorizedTTL: 0s
            cacheUnauthorizedTTL: 0s
        cgroupDriver: systemd
        clusterDNS:
        - 10.96.0.10
        clusterDomain: cluster.local
        containerRuntimeEndpoint: ""
        healthzBindAddress: 127.0.0.1
        healthzPort: 10248
        kind: KubeletConfiguration
        rotateCertificates: true
        staticPodPath: /etc/kubernetes/manifests

        """;

    /// <summary>The cluster-info kubeconfig as kubeadm writes it: one cluster named "", no contexts, no users.</summary>
    public static string RenderClusterInfoKubeconfig(string server, string caPem) => $"""
        apiVersion: v1
        clusters:
        - cluster:
            certificate-authority-data: {Convert.ToBase64String(Encoding.UTF8.GetBytes(caPem))}
            server: {server}
          name: ""
        contexts: null
        current-context: ""
        kind: Config
        preferences: {"{}"}
        users: null

        """;

    internal static void Publish(ObjectStore store, string server, string caPem, string? kubeletConfiguration)
    {
        if (store.TryGet(ResourceRegistry.ConfigMaps, BootstrapSigner.Namespace, BootstrapSigner.ConfigMapName) is null)
        {
            store.Create(ResourceRegistry.ConfigMaps, new JsonObject
            {
                ["metadata"] = new JsonObject { ["name"] = BootstrapSigner.ConfigMapName, ["namespace"] = BootstrapSigner.Namespace },
                ["data"] = new JsonObject { [BootstrapSigner.KubeconfigKey] = RenderClusterInfoKubeconfig(server, caPem) },
            });
        }
        if (kubeletConfiguration is not null && store.TryGet(ResourceRegistry.ConfigMaps, "kube-system", KubeletConfigMapName) is null)
        {
            store.Create(ResourceRegistry.ConfigMaps, new JsonObject
            {
                ["metadata"] = new JsonObject { ["name"] = KubeletConfigMapName, ["namespace"] = "kube-system" },
                ["data"] = new JsonObject { [KubeletConfigMapKey] = kubeletConfiguration },
            });
        }
    }

    /// <summary>
    /// cluster-info as this server answers a GET: with <see cref="TestApiServerOptions.ManInTheMiddleCaPem"/>, the kubeconfig names
    /// that CA instead, keeping the real signatures (an attacker without the token) or, with
    /// <see cref="TestApiServerOptions.ManInTheMiddleKnowsTokens"/>, signing it with every token (an attacker who has a token).
    /// </summary>
    internal static JsonObject AsServed(TestApiServerOptions options, ObjectStore store, ResourceType type, JsonObject obj)
    {
        if (options.ManInTheMiddleCaPem is not { } foreignCa || type != ResourceRegistry.ConfigMaps
            || obj["metadata"]?["namespace"]?.GetValue<string>() != BootstrapSigner.Namespace
            || obj["metadata"]?["name"]?.GetValue<string>() != BootstrapSigner.ConfigMapName
            || obj["data"] is not JsonObject data || data[BootstrapSigner.KubeconfigKey]?.GetValue<string>() is not { } kubeconfig)
            return obj;
        var server = kubeconfig.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith("server:", StringComparison.Ordinal))["server:".Length..].Trim();
        var forged = RenderClusterInfoKubeconfig(server, foreignCa);
        data[BootstrapSigner.KubeconfigKey] = forged;
        if (options.ManInTheMiddleKnowsTokens)
        {
            foreach (var (id, secret) in BootstrapSigner.SigningTokens(store, options.TimeProvider.GetUtcNow()))
                data[BootstrapSigner.SignaturePrefix + id] = BootstrapSigner.ComputeDetachedSignature(forged, id, secret);
        }
        return obj;
    }
}
