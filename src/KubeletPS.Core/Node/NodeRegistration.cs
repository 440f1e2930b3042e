using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using KubeletPS.Core.Api;

namespace KubeletPS.Core.Node;

/// <summary>What registration did, or (for -WhatIf) would do.</summary>
public sealed record NodeRegistrationResult(V1Node Node, bool Created, IReadOnlyList<string> Changes);

/// <summary>
/// Registers the node with the API server as kubelet does (registerWithAPIServer): create the
/// Node if it is absent; if it exists, reconcile what kubelet owns — its default labels, the
/// attach/detach annotation, and the status (addresses, capacity, allocatable, node info,
/// conditions) — leaving labels, annotations and taints that others set untouched.
/// </summary>
public sealed class NodeRegistration(IKubernetes client, ApiIdentity identity, NodeStatusBuilder builder, IKubeletLog log)
{
    /// <summary>Works out what <see cref="RegisterAsync"/> would do, without writing anything.</summary>
    public async Task<NodeRegistrationResult> PlanAsync(MachineInfo machine, RuntimeHealth runtime, DateTime now, CancellationToken cancellationToken)
    {
        var desired = builder.BuildInitialNode(machine, runtime, now);
        var existing = await TryGetAsync(cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            return new NodeRegistrationResult(desired, true, [$"create Node {desired.Name()} with labels {string.Join(", ", desired.Labels().Select(l => $"{l.Key}={l.Value}"))}"
                + (desired.Spec.Taints is { Count: > 0 } t ? $" and taints {string.Join(", ", t.Select(FormatTaint))}" : "")]);
        }
        var (_, changes) = MetadataPatch(existing, desired);
        var status = builder.BuildStatus(machine, runtime, existing.Status, now);
        if (NodeStatusBuilder.StatusChanged(existing.Status, status)) changes.Add("update status (addresses, capacity, allocatable, node info, conditions)");
        return new NodeRegistrationResult(existing, false, changes);
    }

    public async Task<NodeRegistrationResult> RegisterAsync(MachineInfo machine, RuntimeHealth runtime, DateTime now, CancellationToken cancellationToken)
    {
        var desired = builder.BuildInitialNode(machine, runtime, now);
        var name = desired.Name();
        try
        {
            var created = await ApiCall.RunAsync(identity, "create", "nodes", name,
                () => client.CoreV1.CreateNodeAsync(desired, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
            log.Info($"Registered node {name} with the API server {identity.Server}.");
            // The API server may drop status on create; report it through the status subresource.
            var withStatus = await PatchStatusAsync(name, builder.BuildStatus(machine, runtime, created.Status, now), cancellationToken).ConfigureAwait(false);
            return new NodeRegistrationResult(withStatus, true, ["created"]);
        }
        catch (KubeletApiException e) when (e.IsAlreadyExists)
        {
            log.Info($"Node {name} already exists; reconciling it.");
        }

        var existing = await ApiCall.RunAsync(identity, "get", "nodes", name,
            () => client.CoreV1.ReadNodeAsync(name, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        var (patch, changes) = MetadataPatch(existing, desired);
        if (patch is not null)
        {
            existing = await ApiCall.RunAsync(identity, "patch", "nodes", name,
                () => client.CoreV1.PatchNodeAsync(new V1Patch(patch.ToJsonString(), V1Patch.PatchType.StrategicMergePatch), name, cancellationToken: cancellationToken),
                cancellationToken).ConfigureAwait(false);
            foreach (var change in changes) log.Info($"Node {name}: {change}.");
        }
        var status = builder.BuildStatus(machine, runtime, existing.Status, now);
        if (NodeStatusBuilder.StatusChanged(existing.Status, status)) changes.Add("updated status");
        existing = await PatchStatusAsync(name, status, cancellationToken).ConfigureAwait(false);
        return new NodeRegistrationResult(existing, false, changes);
    }

    public Task<V1Node> PatchStatusAsync(string name, V1NodeStatus status, CancellationToken cancellationToken) =>
        ApiCall.RunAsync(identity, "patch", "nodes/status", name,
            () => client.CoreV1.PatchNodeStatusAsync(new V1Patch(StatusPatch(status), V1Patch.PatchType.StrategicMergePatch), name, cancellationToken: cancellationToken),
            cancellationToken);

    /// <summary>A strategic merge patch for nodes/status: conditions and addresses merge by type.</summary>
    public static string StatusPatch(V1NodeStatus status)
    {
        var node = JsonNode.Parse(KubernetesJson.Serialize(status))!.AsObject();
        return new JsonObject { ["status"] = node }.ToJsonString();
    }

    private async Task<V1Node?> TryGetAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await ApiCall.RunAsync(identity, "get", "nodes", builder.Options.NodeName,
                () => client.CoreV1.ReadNodeAsync(builder.Options.NodeName, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (KubeletApiException e) when (e.IsNotFound)
        {
            return null;
        }
    }

    /// <summary>kubelet's updateDefaultLabels and attach/detach annotation, as a metadata patch.</summary>
    private static (JsonObject? Patch, List<string> Changes) MetadataPatch(V1Node existing, V1Node desired)
    {
        var changes = new List<string>();
        var labels = new JsonObject();
        var existingLabels = existing.Metadata.Labels ?? new Dictionary<string, string>();
        foreach (var key in LabelRules.KubeletOwned)
        {
            if (desired.Metadata.Labels.TryGetValue(key, out var value) && (!existingLabels.TryGetValue(key, out var old) || old != value))
            {
                labels[key] = value;
                changes.Add($"set label {key}={value}");
            }
        }
        var annotations = new JsonObject();
        foreach (var (key, value) in desired.Metadata.Annotations ?? new Dictionary<string, string>())
        {
            if (existing.Metadata.Annotations?.TryGetValue(key, out var old) != true || old != value)
            {
                annotations[key] = value;
                changes.Add($"set annotation {key}={value}");
            }
        }
        if (changes.Count == 0) return (null, changes);
        var metadata = new JsonObject();
        if (labels.Count > 0) metadata["labels"] = labels;
        if (annotations.Count > 0) metadata["annotations"] = annotations;
        return (new JsonObject { ["metadata"] = metadata }, changes);
    }

    private static string FormatTaint(V1Taint t) => t.Value is null ? $"{t.Key}:{t.Effect}" : $"{t.Key}={t.Value}:{t.Effect}";
}
