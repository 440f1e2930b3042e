namespace KubeletPS.TestCluster.Storage;

/// <summary>One served API resource (a REST "kind" at a group/version), as discovery describes it.</summary>
public sealed record ResourceType(string Group, string Version, string Plural, string Kind, bool Namespaced)
{
    public string Singular { get; init; } = Kind.ToLowerInvariant();
    public IReadOnlyList<string> ShortNames { get; init; } = [];
    public IReadOnlyList<string> Verbs { get; init; } = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

    /// <summary>Subresources and the verbs they accept, e.g. "status" → get, patch, update.</summary>
    public IReadOnlyDictionary<string, string[]> Subresources { get; init; } = new Dictionary<string, string[]>();

    /// <summary>True when spec and status are written through separate endpoints (main resource PUT ignores status).</summary>
    public bool HasStatus => Subresources.ContainsKey("status");

    /// <summary>Field selectors the real apiserver accepts for this type, besides metadata.name and metadata.namespace.</summary>
    public IReadOnlyList<string> SelectableFields { get; init; } = [];

    /// <summary>True when DELETE answers with the object rather than a Status (pods, namespaces).</summary>
    public bool ReturnsDeletedObject { get; init; }

    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>The group-qualified resource name used in messages: "pods", "leases.coordination.k8s.io".</summary>
    public string QualifiedName => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    public string ListKind => Kind + "List";
}

/// <summary>The resources this server serves, in the shape of kube-apiserver 1.32.</summary>
public static class ResourceRegistry
{
    private static readonly string[] StatusVerbs = ["get", "patch", "update"];

    public static readonly ResourceType Namespaces = new("", "v1", "namespaces", "Namespace", false)
    {
        ShortNames = ["ns"],
        Verbs = ["create", "delete", "get", "list", "patch", "update", "watch"],
        Subresources = new Dictionary<string, string[]> { ["status"] = StatusVerbs },
        SelectableFields = ["status.phase"],
        ReturnsDeletedObject = true,
    };

    public static readonly ResourceType Nodes = new("", "v1", "nodes", "Node", false)
    {
        ShortNames = ["no"],
        Subresources = new Dictionary<string, string[]> { ["status"] = StatusVerbs },
        SelectableFields = ["spec.unschedulable"],
    };

    public static readonly ResourceType Pods = new("", "v1", "pods", "Pod", true)
    {
        ShortNames = ["po"],
        Subresources = new Dictionary<string, string[]> { ["status"] = StatusVerbs },
        SelectableFields = ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"],
        ReturnsDeletedObject = true,
    };

    public static readonly ResourceType Events = new("", "v1", "events", "Event", true)
    {
        ShortNames = ["ev"],
        SelectableFields = ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
            "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
            "reason", "reportingComponent", "source", "type"],
    };

    public static readonly ResourceType ConfigMaps = new("", "v1", "configmaps", "ConfigMap", true) { ShortNames = ["cm"] };

    public static readonly ResourceType Secrets = new("", "v1", "secrets", "Secret", true) { SelectableFields = ["type"] };

    public static readonly ResourceType ServiceAccounts = new("", "v1", "serviceaccounts", "ServiceAccount", true)
    {
        ShortNames = ["sa"],
        Subresources = new Dictionary<string, string[]> { ["token"] = ["create"] },
    };

    public static readonly ResourceType Services = new("", "v1", "services", "Service", true)
    {
        ShortNames = ["svc"],
        Subresources = new Dictionary<string, string[]> { ["status"] = StatusVerbs },
    };

    public static readonly ResourceType Leases = new("coordination.k8s.io", "v1", "leases", "Lease", true);

    public static readonly ResourceType CertificateSigningRequests = new("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", false)
    {
        ShortNames = ["csr"],
        Subresources = new Dictionary<string, string[]> { ["approval"] = StatusVerbs, ["status"] = StatusVerbs },
        SelectableFields = ["spec.signerName"],
    };

    public static readonly IReadOnlyList<ResourceType> All =
        [Namespaces, Nodes, Pods, Events, ConfigMaps, Secrets, ServiceAccounts, Services, Leases, CertificateSigningRequests];

    /// <summary>Group versions in the order discovery lists them ("" is the legacy core group).</summary>
    public static IEnumerable<(string Group, string Version)> GroupVersions =>
        All.Select(t => (t.Group, t.Version)).Distinct();

    public static ResourceType? Find(string group, string version, string plural) =>
        All.FirstOrDefault(t => t.Group == group && t.Version == version && t.Plural == plural);

    /// <summary>Looks a type up by "pods", "leases.coordination.k8s.io", "Lease" or a short name (for the in-process API).</summary>
    public static ResourceType Resolve(string name) =>
        All.FirstOrDefault(t => t.Plural == name || t.QualifiedName == name || t.Kind == name || t.ShortNames.Contains(name))
        ?? throw new ArgumentException($"the server doesn't have a resource type \"{name}\"", nameof(name));
}
