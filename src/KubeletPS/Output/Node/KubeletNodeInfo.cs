using System.Collections.Specialized;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Node;

namespace KubeletPS.Output;

/// <summary>A node condition: Ready, MemoryPressure, DiskPressure, PIDPressure…</summary>
public sealed class KubeletNodeCondition
{
    internal KubeletNodeCondition(string node, NodeConditionSummary c)
    {
        NodeName = node;
        Type = c.Type;
        Status = c.Status;
        Reason = c.Reason;
        Message = c.Message;
        LastHeartbeatTime = c.LastHeartbeatTime;
        LastTransitionTime = c.LastTransitionTime;
    }

    public string NodeName { get; }
    public string Type { get; }
    public string Status { get; }
    public string? Reason { get; }
    public string? Message { get; }
    public DateTime? LastHeartbeatTime { get; }
    public DateTime? LastTransitionTime { get; }
}

/// <summary>A Node as the API server sees it, with its conditions and its lease's last renewal.</summary>
public sealed class KubeletNodeInfo
{
    internal KubeletNodeInfo(NodeSummary node, IReadOnlyList<string>? changes = null, bool? created = null)
    {
        Name = node.Name;
        Uid = node.Uid;
        Status = (node.Ready ? "Ready" : "NotReady") + (node.Unschedulable ? ",SchedulingDisabled" : "");
        Roles = node.Roles.Count == 0 ? "<none>" : string.Join(",", node.Roles);
        CreationTimestamp = node.CreationTimestamp;
        Age = node.CreationTimestamp is { } t ? DateTime.UtcNow - DateTime.SpecifyKind(t, DateTimeKind.Utc) : null;
        Version = node.KubeletVersion;
        InternalIP = node.Addresses.GetValueOrDefault("InternalIP");
        Hostname = node.Addresses.GetValueOrDefault("Hostname");
        OsImage = node.OsImage;
        KernelVersion = node.KernelVersion;
        ContainerRuntime = node.ContainerRuntimeVersion;
        Architecture = node.Architecture;
        Conditions = node.Conditions.Select(c => new KubeletNodeCondition(node.Name, c)).ToArray();
        Labels = ToOrdered(node.Labels);
        Taints = node.Taints.ToArray();
        Capacity = ToOrdered(node.Capacity);
        Allocatable = ToOrdered(node.Allocatable);
        LeaseRenewTime = node.LeaseRenewTime;
        LeaseHolder = node.LeaseHolder;
        LeaseDurationSeconds = node.LeaseDurationSeconds;
        ResourceVersion = node.ResourceVersion;
        Changes = changes?.ToArray() ?? [];
        Created = created;
    }

    /// <summary>The Node a registration (Invoke-KubeletNodeRegistration, or the heartbeat's first step) created or reconciled.</summary>
    internal KubeletNodeInfo(NodeRegistrationOutcome registered) : this(registered.Node, registered.Changes, registered.Created)
    {
    }

    public string Name { get; }
    public string Uid { get; }
    /// <summary>Ready or NotReady, as kubectl get nodes shows it.</summary>
    public string Status { get; }
    public string Roles { get; }
    public DateTime? CreationTimestamp { get; }
    public TimeSpan? Age { get; }
    /// <summary>The kubelet version the node reports.</summary>
    public string? Version { get; }
    public string? InternalIP { get; }
    public string? Hostname { get; }
    public string? OsImage { get; }
    public string? KernelVersion { get; }
    public string? ContainerRuntime { get; }
    public string? Architecture { get; }
    public KubeletNodeCondition[] Conditions { get; }
    public OrderedDictionary Labels { get; }
    public string[] Taints { get; }
    public OrderedDictionary Capacity { get; }
    public OrderedDictionary Allocatable { get; }
    /// <summary>When the node's Lease in kube-node-lease was last renewed (its heartbeat).</summary>
    public DateTime? LeaseRenewTime { get; }
    public string? LeaseHolder { get; }
    public int? LeaseDurationSeconds { get; }
    public string ResourceVersion { get; }
    /// <summary>From Invoke-KubeletNodeRegistration: what registration changed.</summary>
    public string[] Changes { get; }
    /// <summary>From Invoke-KubeletNodeRegistration: true when the Node was created, false when reconciled.</summary>
    public bool? Created { get; }

    private static OrderedDictionary ToOrdered(IReadOnlyDictionary<string, string> values)
    {
        var ordered = new OrderedDictionary(StringComparer.Ordinal);
        foreach (var (key, value) in values.OrderBy(p => p.Key, StringComparer.Ordinal)) ordered[key] = value;
        return ordered;
    }
}
