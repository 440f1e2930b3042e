namespace KubeletPS.TestCluster.Auth;

/// <summary>
/// What the Node authorizer (with the system:node role's rules) grants a node identity, simplified where the real one walks
/// the graph of pods bound to the node:
/// nodes, pods, services, events (read); its own Node object and nodes/status (object checks are NodeRestriction's);
/// pods create/delete and pods/status update/patch (NodeRestriction limits them to its pods and mirror pods);
/// events create/update/patch; leases only kube-node-lease/NODE; certificatesigningrequests create/get/list/watch;
/// secrets get only when a pod bound to the node references them (<see cref="NodePodReferences"/>; with a store);
/// SIMPLIFIED: configmaps get/list/watch, secrets list/watch and serviceaccounts get in any namespace, and serviceaccounts/token
/// create for any service account (the real authorizer allows only those referenced by pods bound to the node).
/// </summary>
public sealed class NodeAuthorizer(Storage.ObjectStore? store = null) : IAuthorizer
{
    private static readonly string[] Read = ["get", "list", "watch"];

    public AuthorizationResult Authorize(RequestAttributes a)
    {
        if (a.User.NodeName is not { } node || !a.IsResourceRequest) return AuthorizationResult.NoOpinion;
        var allowed = (a.ApiGroup, a.ResourceWithSubresource) switch
        {
            ("", "nodes") => a.Verb is "get" or "list" or "watch" or "create" or "update" or "patch",
            ("", "nodes/status") => a.Verb is "get" or "update" or "patch",
            ("", "pods") => a.Verb is "get" or "list" or "watch" or "create" or "delete",
            ("", "pods/status") => a.Verb is "get" or "update" or "patch",
            ("", "pods/eviction") => a.Verb is "create",
            ("", "services") or ("", "endpoints") => Read.Contains(a.Verb),
            ("", "events") or ("events.k8s.io", "events") => a.Verb is "create" or "update" or "patch" or "get" or "list" or "watch",
            ("", "configmaps") or ("", "secrets") => Read.Contains(a.Verb),
            ("", "serviceaccounts") => a.Verb is "get",
            ("", "serviceaccounts/token") => a.Verb is "create",
            ("certificates.k8s.io", "certificatesigningrequests") => a.Verb is "create" or "get" or "list" or "watch",
            // bootstrappolicy.NodeRules: webhook authentication and authorization of the kubelet's own API.
            ("authentication.k8s.io", "tokenreviews") or ("authorization.k8s.io", "subjectaccessreviews") => a.Verb is "create",
            ("coordination.k8s.io", "leases") => a.Verb is "get" or "create" or "update" or "patch" or "delete",
            _ => false,
        };
        if (!allowed) return AuthorizationResult.NoOpinion;
        if (store is not null && a is { ApiGroup: "", Resource: "secrets", Subresource: "", Verb: "get" }
            && !NodePodReferences.ReferencesSecret(store, node, a.Namespace, a.Name))
            return new(Decision.NoOpinion, $"no relationship found between node '{node}' and this object");
        if (a is { ApiGroup: "coordination.k8s.io", Resource: "leases" })
        {
            if (a.Namespace != "kube-node-lease")
                return new(Decision.NoOpinion, "can only access leases in the \"kube-node-lease\" system namespace");
            // A create carries its name in the body; NodeRestriction checks it.
            if (a.Verb != "create" && a.Name != node)
                return new(Decision.NoOpinion, "can only access node lease with the same name as the requesting node");
        }
        return AuthorizationResult.Allowed;
    }
}
