namespace KubeletPS.TestCluster.Auth;

/// <summary>
/// A rule granting verbs on resources or non-resource paths to users or groups: RBAC's Role + Binding folded into one record.
/// "*" matches anything; a non-resource URL ending in "*" matches by prefix.
/// </summary>
public sealed record PolicyRule
{
    public IReadOnlyList<string> Users { get; init; } = [];
    public IReadOnlyList<string> Groups { get; init; } = [];
    public IReadOnlyList<string> Verbs { get; init; } = [];
    public IReadOnlyList<string> ApiGroups { get; init; } = ["*"];
    /// <summary>Resources, with subresources written "pods/status".</summary>
    public IReadOnlyList<string> Resources { get; init; } = [];
    public IReadOnlyList<string> ResourceNames { get; init; } = [];
    /// <summary>Namespaces the rule applies in (empty: all, like a ClusterRoleBinding).</summary>
    public IReadOnlyList<string> Namespaces { get; init; } = [];
    public IReadOnlyList<string> NonResourceUrls { get; init; } = [];

    public bool Applies(RequestAttributes a)
    {
        if (!Users.Contains(a.User.Name) && !Groups.Any(a.User.Groups.Contains)) return false;
        if (!Verbs.Contains("*") && !Verbs.Contains(a.Verb)) return false;
        if (!a.IsResourceRequest)
            return NonResourceUrls.Any(u => u == "*" || u == a.Path || (u.EndsWith('*') && a.Path.StartsWith(u[..^1], StringComparison.Ordinal)));
        return (ApiGroups.Contains("*") || ApiGroups.Contains(a.ApiGroup))
            && (Resources.Contains("*") || Resources.Contains(a.ResourceWithSubresource) || Resources.Contains($"*/{a.Subresource}"))
            && (ResourceNames.Count == 0 || ResourceNames.Contains(a.Name))
            && (Namespaces.Count == 0 || Namespaces.Contains(a.Namespace));
    }
}

/// <summary>Stands in for RBAC with a flat rule table; the defaults are the bootstrap policy parts a kubelet meets.</summary>
public sealed class RuleAuthorizer(IEnumerable<PolicyRule> rules) : IAuthorizer
{
    private readonly List<PolicyRule> _rules = rules.ToList();

    /// <summary>cluster-admin for system:masters, system:public-info-viewer and system:discovery.</summary>
    public static IReadOnlyList<PolicyRule> BootstrapRules { get; } =
    [
        new() { Groups = [UserInfo.Masters], Verbs = ["*"], Resources = ["*"], NonResourceUrls = ["*"] },
        new()
        {
            Groups = [UserInfo.AllAuthenticated, UserInfo.AllUnauthenticated], Verbs = ["get"],
            NonResourceUrls = ["/healthz", "/livez", "/readyz", "/version", "/version/"],
        },
        new()
        {
            Groups = [UserInfo.AllAuthenticated], Verbs = ["get"],
            NonResourceUrls = ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/healthz", "/livez", "/readyz", "/version", "/version/"],
        },
    ];

    /// <summary>
    /// The bindings kubeadm init creates for TLS bootstrap: kubeadm:kubelet-bootstrap (system:node-bootstrapper: create,
    /// get, list, watch CSRs) and kubeadm:node-autoapprove-bootstrap (nodeclient) for its default node token group, and
    /// kubeadm:node-autoapprove-certificate-rotation (selfnodeclient) for system:nodes; and the join roles
    /// kubeadm:bootstrap-signer-clusterinfo, kubeadm:kubelet-config and kubeadm:get-nodes.
    /// </summary>
    public static IReadOnlyList<PolicyRule> KubeadmRules { get; } =
    [
        new()
        {
            Groups = [BootstrapTokenAuthenticator.KubeadmDefaultNodeTokenGroup], Verbs = ["create", "get", "list", "watch"],
            ApiGroups = ["certificates.k8s.io"], Resources = ["certificatesigningrequests"],
        },
        new()
        {
            Groups = [BootstrapTokenAuthenticator.KubeadmDefaultNodeTokenGroup], Verbs = ["create"],
            ApiGroups = ["certificates.k8s.io"], Resources = ["certificatesigningrequests/nodeclient"],
        },
        new()
        {
            Groups = [UserInfo.NodesGroup], Verbs = ["create"],
            ApiGroups = ["certificates.k8s.io"], Resources = ["certificatesigningrequests/selfnodeclient"],
        },
        // kubeadm:bootstrap-signer-clusterinfo: system:anonymous may get the cluster-info ConfigMap, and nothing else.
        new()
        {
            Users = [UserInfo.Anonymous.Name], Verbs = ["get"], ApiGroups = [""], Resources = ["configmaps"],
            ResourceNames = ["cluster-info"], Namespaces = ["kube-public"],
        },
        // kubeadm:kubelet-config: joining nodes and nodes read the cluster's kubelet configuration.
        new()
        {
            Groups = [UserInfo.NodesGroup, BootstrapTokenAuthenticator.KubeadmDefaultNodeTokenGroup], Verbs = ["get"], ApiGroups = [""],
            Resources = ["configmaps"], ResourceNames = ["kubelet-config"], Namespaces = ["kube-system"],
        },
        // kubeadm:get-nodes: kubeadm join checks that no Ready node has its name.
        new()
        {
            Groups = [BootstrapTokenAuthenticator.KubeadmDefaultNodeTokenGroup], Verbs = ["get"], ApiGroups = [""], Resources = ["nodes"],
        },
    ];

    public AuthorizationResult Authorize(RequestAttributes attributes) =>
        _rules.Any(r => r.Applies(attributes)) ? AuthorizationResult.Allowed : AuthorizationResult.NoOpinion;
}

/// <summary>Asks each authorizer in turn; the first Allow or Deny decides (the apiserver's union authorizer).</summary>
public sealed class UnionAuthorizer(params IAuthorizer[] authorizers) : IAuthorizer
{
    public AuthorizationResult Authorize(RequestAttributes attributes)
    {
        var reasons = new List<string>();
        foreach (var authorizer in authorizers)
        {
            var result = authorizer.Authorize(attributes);
            if (result.Decision != Decision.NoOpinion) return result;
            if (result.Reason.Length > 0) reasons.Add(result.Reason);
        }
        return new AuthorizationResult(Decision.NoOpinion, string.Join(", ", reasons));
    }
}
