using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using KubeletPS.Core.Api;
using KubeletPS.Core.Pods.Manager;

namespace KubeletPS.Core.Pods.Status;

// The status manager's sync pass (kubelet's syncBatch and syncPod): patch pods/status, delete a finished pod for good.
public sealed partial class PodStatusManager
{
    /// <summary>One pass: sends the latest status of every pod whose status the API server has not acknowledged.</summary>
    public async Task<PodStatusSyncResult> SyncAsync(CancellationToken cancellationToken)
    {
        List<(string Uid, V1Pod Pod, string Json, long Version, string? Acknowledged, bool CanBeDeleted)> work;
        lock (_lock)
        {
            work = _entries.Where(e => e.Value.Pending)
                .Select(e => (e.Key, e.Value.Pod, e.Value.Json!, e.Value.Version, e.Value.AcknowledgedJson, e.Value.CanBeDeleted)).ToList();
        }
        int patched = 0, unchanged = 0, forgotten = 0, waiting = 0, failed = 0, deleted = 0;
        foreach (var (uid, pod, json, version, acknowledged, canBeDeleted) in work)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var target = pod;
            if (MirrorPods.IsStaticPod(pod))
            {
                target = _mirrorPods?.GetMirrorPod(pod)!;
                if (target is null)
                {
                    waiting++;
                    continue;
                }
            }
            var outcome = PatchOutcome.Patched;
            if (json == acknowledged)
            {
                Acknowledge(uid, json, version);
                unchanged++;
            }
            else
            {
                outcome = await PatchAsync(pod, target, json, cancellationToken).ConfigureAwait(false);
                if (outcome == PatchOutcome.Patched)
                {
                    Acknowledge(uid, json, version);
                    patched++;
                }
            }
            if (outcome == PatchOutcome.Patched && canBeDeleted)
                outcome = await DeleteAsync(target, cancellationToken).ConfigureAwait(false);
            switch (outcome)
            {
                case PatchOutcome.Patched:
                    break;
                case PatchOutcome.Deleted:
                    lock (_lock)
                    {
                        _entries.Remove(uid);
                        _gone.Add(uid);
                    }
                    deleted++;
                    break;
                case PatchOutcome.Gone:
                    Forget(uid, target);
                    forgotten++;
                    break;
                case PatchOutcome.Waiting:
                    waiting++;
                    break;
                default:
                    failed++;
                    break;
            }
        }
        List<(string Uid, Deletion Deletion)> deletions;
        lock (_lock) deletions = _deletions.Select(d => (d.Key, d.Value)).ToList();
        foreach (var (uid, deletion) in deletions)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var outcome = await DeleteAsync(deletion.Pod, cancellationToken).ConfigureAwait(false);
            if (outcome == PatchOutcome.Deleted) deleted++;
            else failed++;
            if (outcome != PatchOutcome.Deleted && ++deletion.Attempts < MaxDeleteAttempts) continue;
            if (outcome != PatchOutcome.Deleted)
                _log.Warning($"Pod {deletion.Pod.Metadata.NamespaceProperty}/{deletion.Pod.Metadata.Name}: not deleted after {MaxDeleteAttempts} attempts; leaving it to the API server.");
            lock (_lock)
            {
                if (_deletions.TryGetValue(uid, out var current) && current == deletion) _deletions.Remove(uid);
            }
        }
        return new PodStatusSyncResult(patched, unchanged, forgotten, waiting, failed, deleted);
    }

    private void Acknowledge(string uid, string json, long version)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(uid, out var entry) || version < entry.AcknowledgedVersion) return;
            entry.AcknowledgedVersion = version;
            entry.AcknowledgedJson = json;
        }
    }

    private void Forget(string uid, V1Pod target)
    {
        _log.Info($"Pod {target.Metadata.NamespaceProperty}/{target.Metadata.Name} ({target.Metadata.Uid}) is gone from the API server; forgetting its status.");
        lock (_lock)
        {
            _entries.Remove(uid);
            _gone.Add(uid);
        }
    }

    private enum PatchOutcome { Patched, Gone, Waiting, Failed, Deleted }

    private async Task<PatchOutcome> DeleteAsync(V1Pod pod, CancellationToken cancellationToken)
    {
        var what = $"{pod.Metadata.NamespaceProperty}/{pod.Metadata.Name}";
        try
        {
            await ApiCall.RunAsync(_identity, "delete", "pods", what,
                () => _client.CoreV1.DeleteNamespacedPodAsync(pod.Metadata.Name, pod.Metadata.NamespaceProperty,
                    new V1DeleteOptions { GracePeriodSeconds = 0, Preconditions = new V1Preconditions { Uid = pod.Metadata.Uid } },
                    cancellationToken: cancellationToken),
                cancellationToken).ConfigureAwait(false);
            _log.Info($"Pod {what} ({pod.Metadata.Uid}) has terminated; deleted it from the API server.");
            return PatchOutcome.Deleted;
        }
        catch (KubeletApiException e) when (e.IsNotFound || e.IsConflict)
        {
            return PatchOutcome.Deleted; // already gone, or replaced by a pod with another UID
        }
        catch (KubeletApiException e)
        {
            _log.Warning($"Cannot delete terminated pod {what}: {e.Message}");
            return PatchOutcome.Failed;
        }
    }

    private async Task<PatchOutcome> PatchAsync(V1Pod pod, V1Pod target, string statusJson, CancellationToken cancellationToken)
    {
        var name = target.Metadata.Name;
        var ns = target.Metadata.NamespaceProperty;
        var what = $"{ns}/{name}";
        var body = new JsonObject
        {
            ["metadata"] = new JsonObject { ["uid"] = target.Metadata.Uid },
            ["status"] = JsonNode.Parse(statusJson),
        }.ToJsonString();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await ApiCall.RunAsync(_identity, "patch", "pods/status", what,
                    () => _client.CoreV1.PatchNamespacedPodStatusAsync(new V1Patch(body, V1Patch.PatchType.StrategicMergePatch), name, ns, cancellationToken: cancellationToken),
                    cancellationToken).ConfigureAwait(false);
                _log.Debug($"Status of pod {what} sent (phase {KubernetesJson.Deserialize<V1PodStatus>(statusJson).Phase}).");
                return PatchOutcome.Patched;
            }
            catch (KubeletApiException e) when (e.IsNotFound)
            {
                // A static pod's mirror pod may come back; only a pod from the API server is gone for good.
                return MirrorPods.IsStaticPod(pod) ? PatchOutcome.Waiting : PatchOutcome.Gone;
            }
            catch (KubeletApiException e) when (e.IsConflict && attempt < _options.ConflictRetries)
            {
                _log.Debug($"Status of pod {what}: {e.Message}; reading the pod again.");
                try
                {
                    var current = await ApiCall.RunAsync(_identity, "get", "pods", what,
                        () => _client.CoreV1.ReadNamespacedPodAsync(name, ns, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
                    if (current.Metadata.Uid != target.Metadata.Uid)
                        return MirrorPods.IsStaticPod(pod) ? PatchOutcome.Waiting : PatchOutcome.Gone;
                }
                catch (KubeletApiException g) when (g.IsNotFound)
                {
                    return MirrorPods.IsStaticPod(pod) ? PatchOutcome.Waiting : PatchOutcome.Gone;
                }
                catch (KubeletApiException g)
                {
                    _log.Warning($"Cannot send the status of pod {what}: {g.Message}");
                    return PatchOutcome.Failed;
                }
            }
            catch (KubeletApiException e)
            {
                _log.Warning($"Cannot send the status of pod {what}: {e.Message} Keeping the latest status to retry.");
                return PatchOutcome.Failed;
            }
        }
    }
}
