using k8s.Models;

namespace KubeletPS.Core.Node;

/// <summary>A node condition as the API server holds it.</summary>
public sealed record NodeConditionSummary(string Type, string Status, string? Reason, string? Message, DateTime? LastHeartbeatTime, DateTime? LastTransitionTime);

/// <summary>
/// A Node (and its Lease) in the engine's own terms, so the PowerShell layer never handles
/// KubernetesClient types: what `kubectl get node -o wide` and `describe node` show.
/// </summary>
public sealed record NodeSummary
{
    public required string Name { get; init; }
    public required string Uid { get; init; }
    public required string ResourceVersion { get; init; }
    public required DateTime? CreationTimestamp { get; init; }
    public required bool Ready { get; init; }
    public required IReadOnlyList<string> Roles { get; init; }
    public required IReadOnlyDictionary<string, string> Labels { get; init; }
    public required IReadOnlyList<string> Taints { get; init; }
    public required IReadOnlyList<NodeConditionSummary> Conditions { get; init; }
    public required IReadOnlyDictionary<string, string> Addresses { get; init; }
    public required IReadOnlyDictionary<string, string> Capacity { get; init; }
    public required IReadOnlyDictionary<string, string> Allocatable { get; init; }
    public string? KubeletVersion { get; init; }
    public string? ContainerRuntimeVersion { get; init; }
    public string? OsImage { get; init; }
    public string? KernelVersion { get; init; }
    public string? Architecture { get; init; }
    public bool Unschedulable { get; init; }
    public DateTime? LeaseRenewTime { get; init; }
    public string? LeaseHolder { get; init; }
    public int? LeaseDurationSeconds { get; init; }

    public static NodeSummary From(V1Node node, V1Lease? lease)
    {
        var labels = node.Metadata.Labels ?? new Dictionary<string, string>();
        var roles = labels.Keys.Where(k => k.StartsWith("node-role.kubernetes.io/", StringComparison.Ordinal))
            .Select(k => k["node-role.kubernetes.io/".Length..]).Where(r => r.Length > 0).Order().ToList();
        var conditions = (node.Status?.Conditions ?? []).Select(c =>
            new NodeConditionSummary(c.Type, c.Status, c.Reason, c.Message, c.LastHeartbeatTime, c.LastTransitionTime)).ToList();
        return new NodeSummary
        {
            Name = node.Metadata.Name,
            Uid = node.Metadata.Uid ?? "",
            ResourceVersion = node.Metadata.ResourceVersion ?? "",
            CreationTimestamp = node.Metadata.CreationTimestamp,
            Ready = conditions.Any(c => c.Type == "Ready" && c.Status == "True"),
            Roles = roles,
            Labels = new Dictionary<string, string>(labels),
            Taints = (node.Spec?.Taints ?? []).Select(t => t.Value is null ? $"{t.Key}:{t.Effect}" : $"{t.Key}={t.Value}:{t.Effect}").ToList(),
            Conditions = conditions,
            Addresses = (node.Status?.Addresses ?? []).GroupBy(a => a.Type).ToDictionary(g => g.Key, g => g.First().Address),
            Capacity = (node.Status?.Capacity ?? new Dictionary<string, ResourceQuantity>()).ToDictionary(p => p.Key, p => p.Value.ToString()),
            Allocatable = (node.Status?.Allocatable ?? new Dictionary<string, ResourceQuantity>()).ToDictionary(p => p.Key, p => p.Value.ToString()),
            KubeletVersion = node.Status?.NodeInfo?.KubeletVersion,
            ContainerRuntimeVersion = node.Status?.NodeInfo?.ContainerRuntimeVersion,
            OsImage = node.Status?.NodeInfo?.OsImage,
            KernelVersion = node.Status?.NodeInfo?.KernelVersion,
            Architecture = node.Status?.NodeInfo?.Architecture,
            Unschedulable = node.Spec?.Unschedulable == true,
            LeaseRenewTime = lease?.Spec?.RenewTime,
            LeaseHolder = lease?.Spec?.HolderIdentity,
            LeaseDurationSeconds = lease?.Spec?.LeaseDurationSeconds,
        };
    }
}
