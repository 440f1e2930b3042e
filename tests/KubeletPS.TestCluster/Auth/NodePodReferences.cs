using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Auth;

/// <summary>
/// The Node authorizer's graph for secrets, reduced to what it answers (plugin/pkg/auth/authorizer/node): a node may get
/// a secret only when a pod bound to it (spec.nodeName) in the secret's namespace references it — imagePullSecrets,
/// secret and projected volumes, env valueFrom.secretKeyRef and envFrom.secretRef of every container.
/// </summary>
public static class NodePodReferences
{
    public static bool ReferencesSecret(ObjectStore store, string node, string ns, string name) =>
        store.List("pods", ns).Any(pod => (string?)pod["spec"]?["nodeName"] == node && SecretNames(pod).Contains(name));

    private static IEnumerable<string> SecretNames(JsonObject pod)
    {
        var spec = pod["spec"];
        foreach (var s in Items(spec?["imagePullSecrets"])) if ((string?)s?["name"] is { } n) yield return n;
        foreach (var volume in Items(spec?["volumes"]))
        {
            if ((string?)volume?["secret"]?["secretName"] is { } v) yield return v;
            foreach (var source in Items(volume?["projected"]?["sources"])) if ((string?)source?["secret"]?["name"] is { } p) yield return p;
        }
        foreach (var list in new[] { "initContainers", "containers", "ephemeralContainers" })
        {
            foreach (var container in Items(spec?[list]))
            {
                foreach (var from in Items(container?["envFrom"])) if ((string?)from?["secretRef"]?["name"] is { } f) yield return f;
                foreach (var env in Items(container?["env"])) if ((string?)env?["valueFrom"]?["secretKeyRef"]?["name"] is { } e) yield return e;
            }
        }
    }

    private static IEnumerable<JsonNode?> Items(JsonNode? node) => node as JsonArray ?? [];
}
