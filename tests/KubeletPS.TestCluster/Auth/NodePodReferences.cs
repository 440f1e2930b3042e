using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Auth;

/// <summary>The object kinds the Node authorizer reaches through the pods bound to a node (its graph's vertex types).</summary>
public enum NodeGraphKind
{
    Secret,
    ConfigMap,
    PersistentVolumeClaim,
    PersistentVolume,
    ServiceAccount,
}

/// <summary>
/// The Node authorizer's graph (plugin/pkg/auth/authorizer/node/graph.go), answered from the store instead of kept as
/// edges: a node reaches an object when a pod bound to it (spec.nodeName) in the object's namespace references it, as
/// podutil's VisitPodSecretNames and VisitPodConfigmapNames walk a pod — imagePullSecrets, secret, configMap and
/// projected volumes, the secretRef of CSI and the other volume plugins that carry one, env valueFrom and envFrom of every
/// container — and the pod's persistentVolumeClaim and ephemeral volumes (claim POD-VOLUME) and its service account (empty
/// is "default", what the ServiceAccount admission plugin sets). A persistent volume is reached through a claim the node
/// reaches whose spec.volumeName names it (this server stores no claims, so none is).
/// </summary>
public static class NodePodReferences
{
    private static readonly string[] ContainerLists = ["initContainers", "containers", "ephemeralContainers"];

    // Volume plugins with a secretRef (VisitPodSecretNames): their secretRef.name.
    private static readonly string[] SecretRefVolumes = ["cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "iscsi", "storageos"];

    public static bool ReferencesSecret(ObjectStore store, string node, string ns, string name) => References(store, node, NodeGraphKind.Secret, ns, name);

    /// <summary>Whether a pod bound to <paramref name="node"/> reaches the object <paramref name="ns"/>/<paramref name="name"/> of <paramref name="kind"/>.</summary>
    public static bool References(ObjectStore store, string node, NodeGraphKind kind, string ns, string name)
    {
        ArgumentNullException.ThrowIfNull(store);
        if (kind == NodeGraphKind.PersistentVolume) return false; // see the class summary: no claims are stored
        return store.List("pods", ns).Any(pod => (string?)pod["spec"]?["nodeName"] == node && Names(pod, kind).Contains(name, StringComparer.Ordinal));
    }

    private static IEnumerable<string> Names(JsonObject pod, NodeGraphKind kind) => kind switch
    {
        NodeGraphKind.Secret => SecretNames(pod),
        NodeGraphKind.ConfigMap => ConfigMapNames(pod),
        NodeGraphKind.PersistentVolumeClaim => ClaimNames(pod),
        NodeGraphKind.ServiceAccount => [(string?)pod["spec"]?["serviceAccountName"] is { Length: > 0 } sa ? sa : "default"],
        _ => [],
    };

    private static IEnumerable<string> SecretNames(JsonObject pod)
    {
        var spec = pod["spec"];
        foreach (var s in Items(spec?["imagePullSecrets"])) if ((string?)s?["name"] is { } n) yield return n;
        foreach (var volume in Items(spec?["volumes"]))
        {
            if ((string?)volume?["secret"]?["secretName"] is { } v) yield return v;
            if ((string?)volume?["azureFile"]?["secretName"] is { } azure) yield return azure;
            if ((string?)volume?["csi"]?["nodePublishSecretRef"]?["name"] is { } csi) yield return csi;
            foreach (var plugin in SecretRefVolumes) if ((string?)volume?[plugin]?["secretRef"]?["name"] is { } r) yield return r;
            foreach (var source in Items(volume?["projected"]?["sources"])) if ((string?)source?["secret"]?["name"] is { } p) yield return p;
        }
        foreach (var container in Containers(pod))
        {
            foreach (var from in Items(container?["envFrom"])) if ((string?)from?["secretRef"]?["name"] is { } f) yield return f;
            foreach (var env in Items(container?["env"])) if ((string?)env?["valueFrom"]?["secretKeyRef"]?["name"] is { } e) yield return e;
        }
    }

    private static IEnumerable<string> ConfigMapNames(JsonObject pod)
    {
        foreach (var volume in Items(pod["spec"]?["volumes"]))
        {
            if ((string?)volume?["configMap"]?["name"] is { } v) yield return v;
            foreach (var source in Items(volume?["projected"]?["sources"])) if ((string?)source?["configMap"]?["name"] is { } p) yield return p;
        }
        foreach (var container in Containers(pod))
        {
            foreach (var from in Items(container?["envFrom"])) if ((string?)from?["configMapRef"]?["name"] is { } f) yield return f;
            foreach (var env in Items(container?["env"])) if ((string?)env?["valueFrom"]?["configMapKeyRef"]?["name"] is { } e) yield return e;
        }
    }

    private static IEnumerable<string> ClaimNames(JsonObject pod)
    {
        var podName = (string?)pod["metadata"]?["name"];
        foreach (var volume in Items(pod["spec"]?["volumes"]))
        {
            if ((string?)volume?["persistentVolumeClaim"]?["claimName"] is { } claim) yield return claim;
            // A generic ephemeral volume's claim is named <pod>-<volume> (ephemeral.VolumeClaimName).
            if (volume?["ephemeral"] is not null && (string?)volume["name"] is { } volumeName) yield return $"{podName}-{volumeName}";
        }
    }

    private static IEnumerable<JsonNode?> Containers(JsonObject pod) => ContainerLists.SelectMany(list => Items(pod["spec"]?[list]));

    private static IEnumerable<JsonNode?> Items(JsonNode? node) => node as JsonArray ?? [];
}
