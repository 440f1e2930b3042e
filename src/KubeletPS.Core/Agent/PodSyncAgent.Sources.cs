using k8s.Models;
using KubeletPS.Core.Pods.Admission;
using KubeletPS.Core.Pods.Config;

namespace KubeletPS.Core.Agent;

// The pod sources' updates (kubelet's syncLoopIteration on the config channel): admission, the desired pods, new and removed workers, housekeeping.
public sealed partial class PodSyncAgent
{
    private async Task WatchSourceAsync(IPodSource source, CancellationToken ct)
    {
        try
        {
            // A refused file is reported when its error first appears, not at every snapshot another file causes.
            var reported = new HashSet<PodSourceError>();
            await foreach (var snapshot in source.WatchAsync(ct).ConfigureAwait(false))
            {
                foreach (var error in snapshot.Errors.Where(e => !reported.Contains(e))) _log.Warning(error.Path is { } path && !error.Message.Contains(path, StringComparison.Ordinal) ? $"{path}: {error.Message}" : error.Message);
                reported = snapshot.Errors.ToHashSet();
                var desired = _config.Set(snapshot);
                IReadOnlyDictionary<string, V1Pod> before;
                lock (_lock)
                {
                    before = _desired;
                    _desired = desired;
                }
                foreach (var (uid, pod) in desired)
                {
                    if (!before.ContainsKey(uid)) _log.Info($"pod {pod.Namespace()}/{pod.Name()} ({uid}) from source {source.Name}: desired.");
                    if (!Admit(pod)) continue;
                    // As kubelet's pod config: a pod whose spec, labels, annotations and deletion did not
                    // change (a status echo from the API, another pod's edit) does not wake its worker.
                    var key = PodSemantics.Key(pod);
                    lock (_lock)
                    {
                        if (_semanticKeys.TryGetValue(uid, out var known) && known == key && _workers.IsKnown(uid)) continue;
                        _semanticKeys[uid] = key;
                    }
                    _options.ConfigObjects?.RegisterPod(pod);
                    _workers.UpdatePod(pod);
                }
                foreach (var (uid, pod) in before)
                {
                    if (desired.ContainsKey(uid)) continue;
                    if (_admission.Forget(uid))
                    {
                        _sink.RemovePod(uid);
                        continue;
                    }
                    _log.Info($"pod {pod.Namespace()}/{pod.Name()} ({uid}): no longer in any source; stopping it.");
                    lock (_lock) _semanticKeys.Remove(uid);
                    _workers.KillPod(uid);
                    _options.ConfigObjects?.UnregisterPod(uid);
                }
                Housekeeping();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>Admission of a new pod; a refused one gets its Failed status once and never reaches a worker.</summary>
    private bool Admit(V1Pod pod)
    {
        var (outcome, rejected, result) = _admission.Admit(pod, _workers.IsKnown(pod.Metadata.Uid));
        if (outcome != AdmitOutcome.NewlyRefused) return outcome == AdmitOutcome.Admitted;
        _log.Warning($"pod {pod.Namespace()}/{pod.Name()}: {result!.Reason}: {result.Message}");
        _sink.SetPodStatus(rejected!);
        return false;
    }

    /// <summary>Kubelet's housekeeping: pods in the runtime that no source wants are killed.</summary>
    private void Housekeeping()
    {
        if (!_config.AllSourcesSeen) return;
        var desired = Desired;
        foreach (var uid in _pleg.PodUids)
        {
            if (desired.ContainsKey(uid) || _workers.IsKnown(uid)) continue;
            _log.Info($"pod {uid}: found in the runtime but in no source; killing it (housekeeping).");
            _workers.KillOrphan(uid);
        }
        _containerManager?.CleanupOrphanedPodCgroups(ActivePods(), _pleg.PodUids);
    }
}
