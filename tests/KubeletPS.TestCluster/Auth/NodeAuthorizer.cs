namespace KubeletPS.TestCluster.Auth;

/// <summary>
/// What the Node authorizer (plugin/pkg/auth/authorizer/node/node_authorizer.go, with the system:node role's rules) grants a
/// node identity. Subdivided as there, through the pods bound to the node (<see cref="NodePodReferences"/>): secrets and
/// configmaps get, list and watch of one object a pod of the node references (a list or watch names it with
/// fieldSelector metadata.name=NAME; a whole namespace is "No Object name found"); persistentvolumeclaims and
/// persistentvolumes get of one referenced (claims' status update/patch likewise); serviceaccounts only the token create of
/// a pod's service account; leases only kube-node-lease/NODE. The rest from the role's rules: nodes, pods, services,
/// endpoints, events (read); its own Node object and nodes/status (object checks are NodeRestriction's); pods
/// create/delete and pods/status update/patch (NodeRestriction limits them to its pods and mirror pods); events
/// create/update/patch; certificatesigningrequests create/get/list/watch.
/// Without a store (unit use) the subdivided resources are refused: no pod references anything.
/// </summary>
public sealed class NodeAuthorizer(Storage.ObjectStore? store = null) : IAuthorizer
{
    private static readonly string[] Read = ["get", "list", "watch"];

    public AuthorizationResult Authorize(RequestAttributes a)
    {
        if (a.User.NodeName is not { } node || !a.IsResourceRequest) return AuthorizationResult.NoOpinion;
        if (a.ApiGroup.Length == 0)
        {
            switch (a.Resource)
            {
                case "secrets": return ReadNamespacedObject(node, NodeGraphKind.Secret, a);
                case "configmaps": return ReadNamespacedObject(node, NodeGraphKind.ConfigMap, a);
                case "persistentvolumeclaims" when a.Subresource == "status": return StatusUpdate(node, NodeGraphKind.PersistentVolumeClaim, a);
                case "persistentvolumeclaims": return Get(node, NodeGraphKind.PersistentVolumeClaim, a);
                case "persistentvolumes": return Get(node, NodeGraphKind.PersistentVolume, a);
                case "serviceaccounts": return CreateToken(node, a);
            }
        }
        var allowed = (a.ApiGroup, a.ResourceWithSubresource) switch
        {
            ("", "nodes") => a.Verb is "get" or "list" or "watch" or "create" or "update" or "patch",
            ("", "nodes/status") => a.Verb is "get" or "update" or "patch",
            ("", "pods") => a.Verb is "get" or "list" or "watch" or "create" or "delete",
            ("", "pods/status") => a.Verb is "get" or "update" or "patch",
            ("", "pods/eviction") => a.Verb is "create",
            ("", "services") or ("", "endpoints") => Read.Contains(a.Verb),
            ("", "events") or ("events.k8s.io", "events") => a.Verb is "create" or "update" or "patch" or "get" or "list" or "watch",
            ("certificates.k8s.io", "certificatesigningrequests") => a.Verb is "create" or "get" or "list" or "watch",
            // bootstrappolicy.NodeRules: webhook authentication and authorization of the kubelet's own API.
            ("authentication.k8s.io", "tokenreviews") or ("authorization.k8s.io", "subjectaccessreviews") => a.Verb is "create",
            ("coordination.k8s.io", "leases") => a.Verb is "get" or "create" or "update" or "patch" or "delete",
            _ => false,
        };
        if (!allowed) return AuthorizationResult.NoOpinion;
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
    /// <summary>authorizeReadNamespacedObject: get, list or watch of one named object in a namespace.</summary>
    private AuthorizationResult ReadNamespacedObject(string node, NodeGraphKind kind, RequestAttributes a)
    {
        if (!Read.Contains(a.Verb)) return new(Decision.NoOpinion, "can only read resources of this type");
        if (a.Subresource.Length > 0) return new(Decision.NoOpinion, "cannot read subresource");
        if (a.Namespace.Length == 0) return new(Decision.NoOpinion, "can only read namespaced object of this type");
        return Related(node, kind, a);
    }

    /// <summary>authorizeGet: get of one named object.</summary>
    private AuthorizationResult Get(string node, NodeGraphKind kind, RequestAttributes a)
    {
        if (a.Verb != "get") return new(Decision.NoOpinion, "can only get individual resources of this type");
        if (a.Subresource.Length > 0) return new(Decision.NoOpinion, "cannot get subresource");
        return Related(node, kind, a);
    }

    /// <summary>authorizeStatusUpdate: update or patch of the status of one named object.</summary>
    private AuthorizationResult StatusUpdate(string node, NodeGraphKind kind, RequestAttributes a) =>
        a.Verb is "update" or "patch" ? Related(node, kind, a) : new(Decision.NoOpinion, "can only get/update/patch this type");

    /// <summary>authorizeCreateToken: serviceaccounts/NAME/token create, for a service account of a pod bound to the node.</summary>
    private AuthorizationResult CreateToken(string node, RequestAttributes a)
    {
        if (a.Verb != "create" || a.Name.Length == 0) return new(Decision.NoOpinion, "can only create tokens for individual service accounts");
        if (a.Subresource != "token") return new(Decision.NoOpinion, "can only create token subresource of serviceaccount");
        return Related(node, NodeGraphKind.ServiceAccount, a);
    }

    /// <summary>authorize: the object's name (a list's or watch's from its field selector) and a path from the node to it.</summary>
    private AuthorizationResult Related(string node, NodeGraphKind kind, RequestAttributes a)
    {
        var name = a.Name.Length > 0 ? a.Name : a.SelectorName;
        if (name.Length == 0) return new(Decision.NoOpinion, "No Object name found");
        return store is not null && NodePodReferences.References(store, node, kind, a.Namespace, name)
            ? AuthorizationResult.Allowed
            : new(Decision.NoOpinion, $"no relationship found between node '{node}' and this object");
    }
}
