using k8s;
using k8s.Models;
using KubeletPS.Core.Api;
using KubeletPS.Core.Pods.Config;

namespace KubeletPS.Core.Pods.Manager;

/// <summary>What one mirror pod sync did, as "namespace/name" keys.</summary>
public sealed record MirrorPodSyncResult(IReadOnlyList<string> Created, IReadOnlyList<string> Deleted, IReadOnlyList<string> Errors);

/// <summary>
/// Mirror pods (kubelet's mirror client and its orphan cleanup): each static pod gets an API copy
/// bound to this node, annotated kubernetes.io/config.mirror with the static pod's config hash and
/// owned by the Node, so that kubectl shows it. A mirror pod that is deleted is created again; one
/// whose hash is stale (the manifest changed) or that is being deleted is replaced; one whose static
/// pod is gone is deleted. Deletes carry the mirror pod's UID as a precondition and grace period 0.
/// </summary>
public sealed class MirrorPodManager(IKubernetes client, ApiIdentity identity, string nodeName, IKubeletLog? log = null) : IMirrorPodLookup
{
    private readonly IKubeletLog _log = log ?? NullKubeletLog.Instance;
    private readonly object _lock = new();
    private Dictionary<string, V1Pod> _mirrors = [];
    private string? _nodeUid;

    public V1Pod? GetMirrorPod(V1Pod staticPod)
    {
        lock (_lock) return _mirrors.TryGetValue(Key(staticPod), out var mirror) ? mirror : null;
    }

    /// <summary>
    /// Makes the mirror pods match <paramref name="staticPods"/>. The current mirror pods come from
    /// <paramref name="apiPods"/> (the API source's last snapshot) when given, else from a list of the node's pods.
    /// Failures of single pods are logged and returned; the next sync tries again.
    /// </summary>
    public async Task<MirrorPodSyncResult> SyncAsync(IReadOnlyCollection<V1Pod> staticPods, IReadOnlyCollection<V1Pod>? apiPods, CancellationToken cancellationToken)
    {
        apiPods ??= (await ApiCall.RunAsync(identity, "list", "pods", null,
            () => client.CoreV1.ListPodForAllNamespacesAsync(fieldSelector: $"spec.nodeName={nodeName}", cancellationToken: cancellationToken),
            cancellationToken).ConfigureAwait(false)).Items?.ToList() ?? [];
        var existing = apiPods.Where(MirrorPods.IsMirrorPod).GroupBy(Key).ToDictionary(g => g.Key, g => g.First());
        var wanted = staticPods.GroupBy(Key).ToDictionary(g => g.Key, g => g.First());
        var created = new List<string>();
        var deleted = new List<string>();
        var errors = new List<string>();
        var mirrors = new Dictionary<string, V1Pod>();

        foreach (var (key, staticPod) in wanted)
        {
            try
            {
                if (existing.TryGetValue(key, out var mirror))
                {
                    if (IsCurrent(mirror, staticPod))
                    {
                        mirrors[key] = mirror;
                        continue;
                    }
                    _log.Info($"Mirror pod {key} is {(mirror.Metadata.DeletionTimestamp is null ? "stale (the static pod changed)" : "being deleted")}; replacing it.");
                    await DeleteAsync(mirror, cancellationToken).ConfigureAwait(false);
                    deleted.Add(key);
                }
                mirrors[key] = await CreateAsync(staticPod, cancellationToken).ConfigureAwait(false);
                created.Add(key);
            }
            catch (KubeletApiException e)
            {
                _log.Warning($"Cannot sync mirror pod {key}: {e.Message}");
                errors.Add($"{key}: {e.Message}");
            }
        }
        foreach (var (key, mirror) in existing)
        {
            if (wanted.ContainsKey(key)) continue;
            try
            {
                _log.Info($"Deleting orphaned mirror pod {key}: its static pod is gone.");
                await DeleteAsync(mirror, cancellationToken).ConfigureAwait(false);
                deleted.Add(key);
            }
            catch (KubeletApiException e)
            {
                _log.Warning($"Cannot delete orphaned mirror pod {key}: {e.Message}");
                errors.Add($"{key}: {e.Message}");
            }
        }
        lock (_lock) _mirrors = mirrors;
        return new MirrorPodSyncResult(created, deleted, errors);
    }

    private static string Key(V1Pod pod) => $"{pod.Metadata.NamespaceProperty ?? "default"}/{pod.Metadata.Name}";

    private static bool IsCurrent(V1Pod mirror, V1Pod staticPod) =>
        mirror.Metadata.DeletionTimestamp is null
        && mirror.Metadata.Annotations?.TryGetValue(PodAnnotations.ConfigMirror, out var hash) == true
        && hash == MirrorPods.ConfigHash(staticPod);

    private async Task<V1Pod> CreateAsync(V1Pod staticPod, CancellationToken cancellationToken)
    {
        var nodeUid = await NodeUidAsync(cancellationToken).ConfigureAwait(false);
        var mirror = KubeObjects.DeepCopy(staticPod);
        var annotations = new Dictionary<string, string>(mirror.Metadata.Annotations ?? new Dictionary<string, string>())
        {
            [PodAnnotations.ConfigMirror] = MirrorPods.ConfigHash(staticPod) ?? "",
        };
        mirror.Metadata = new V1ObjectMeta
        {
            Name = staticPod.Metadata.Name,
            NamespaceProperty = staticPod.Metadata.NamespaceProperty ?? "default",
            Labels = mirror.Metadata.Labels,
            Annotations = annotations,
            OwnerReferences = [new V1OwnerReference { ApiVersion = "v1", Kind = "Node", Name = nodeName, Uid = nodeUid, Controller = true }],
        };
        mirror.Spec.NodeName = nodeName;
        mirror.Status = null;
        var name = Key(staticPod);
        try
        {
            var created = await ApiCall.RunAsync(identity, "create", "pods", name,
                () => client.CoreV1.CreateNamespacedPodAsync(mirror, mirror.Metadata.NamespaceProperty, cancellationToken: cancellationToken),
                cancellationToken).ConfigureAwait(false);
            _log.Info($"Created mirror pod {name} for static pod {staticPod.Metadata.Uid}.");
            return created;
        }
        catch (KubeletApiException e) when (e.IsAlreadyExists)
        {
            // Created meanwhile (a previous attempt whose answer was lost): the next sync checks its hash.
            return await ApiCall.RunAsync(identity, "get", "pods", name,
                () => client.CoreV1.ReadNamespacedPodAsync(mirror.Metadata.Name, mirror.Metadata.NamespaceProperty, cancellationToken: cancellationToken),
                cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task DeleteAsync(V1Pod mirror, CancellationToken cancellationToken)
    {
        try
        {
            await ApiCall.RunAsync(identity, "delete", "pods", Key(mirror),
                () => client.CoreV1.DeleteNamespacedPodAsync(mirror.Metadata.Name, mirror.Metadata.NamespaceProperty,
                    new V1DeleteOptions { GracePeriodSeconds = 0, Preconditions = new V1Preconditions { Uid = mirror.Metadata.Uid } },
                    cancellationToken: cancellationToken),
                cancellationToken).ConfigureAwait(false);
        }
        catch (KubeletApiException e) when (e.IsNotFound || e.IsConflict)
        {
            // Already gone, or already replaced by another UID: nothing of ours to delete.
        }
    }

    private async Task<string> NodeUidAsync(CancellationToken cancellationToken)
    {
        if (_nodeUid is { } uid) return uid;
        var node = await ApiCall.RunAsync(identity, "get", "nodes", nodeName,
            () => client.CoreV1.ReadNodeAsync(nodeName, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        return _nodeUid = node.Metadata.Uid;
    }
}
