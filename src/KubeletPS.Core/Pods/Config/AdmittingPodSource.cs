using System.Runtime.CompilerServices;
using k8s.Models;
using KubeletPS.Core.Api;
using KubeletPS.Core.Pods.Admission;
using KubeletPS.Core.Pods.Manager;
using KubeletPS.Core.Pods.Status;

namespace KubeletPS.Core.Pods.Config;

/// <summary>
/// Stands between the API pod source and the pod workers, doing what kubelet's pod manager and
/// admission handlers do with API pods: mirror pods are never run (they only reflect static
/// pods); a pod being deleted (deletionTimestamp set) leaves the desired set, so its worker stops
/// it with its grace period; a new pod is admitted against the node (resources, node selector and
/// affinity, taints) and a rejected one gets a Failed status with kubelet's reason instead of running.
/// </summary>
/// <remarks>Each list from the API server goes to <paramref name="podManager"/> (a new one when none is given).</remarks>
public sealed class AdmittingPodSource(IPodSource inner, Func<V1Node?> node, IPodStatusSink statusSink, IKubeletLog log, PodManager? podManager = null) : IPodSource
{
    private readonly PodManager _podManager = podManager ?? new PodManager();
    private readonly Dictionary<string, V1Pod> _admitted = new(StringComparer.Ordinal);
    private readonly HashSet<string> _rejected = new(StringComparer.Ordinal);
    private readonly object _lock = new();

    public string Name => inner.Name;

    /// <summary>The eviction manager's admission, asked first (kubelet adds its handler before the predicates): none without it.</summary>
    public Eviction.EvictionManager? Eviction { get; init; }

    /// <summary>Every pod the API server last listed for this node, mirror pods and terminating pods included.</summary>
    public IReadOnlyList<V1Pod> LatestApiPods => _podManager.ApiPods;

    /// <summary>Raised after each snapshot from the API server (for the mirror pod manager).</summary>
    public event Action? ApiPodsChanged;

    /// <summary>The pod with this UID as the API server last had it, or null.</summary>
    public V1Pod? FindApiPod(string uid) => _podManager.GetPodByUid(uid);

    public async IAsyncEnumerable<PodSourceSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var snapshot in inner.WatchAsync(cancellationToken).ConfigureAwait(false))
        {
            _podManager.SetApiPods(snapshot.Pods);
            var desired = new List<V1Pod>();
            lock (_lock)
            {
                var present = snapshot.Pods.Select(p => p.Metadata.Uid).ToHashSet(StringComparer.Ordinal);
                foreach (var uid in _admitted.Keys.Where(u => !present.Contains(u)).ToList()) _admitted.Remove(uid);
                _rejected.IntersectWith(present);
                foreach (var pod in snapshot.Pods)
                {
                    var uid = pod.Metadata.Uid;
                    if (MirrorPods.IsMirrorPod(pod)) continue;
                    if (pod.Metadata.DeletionTimestamp is not null)
                    {
                        if (_admitted.Remove(uid)) log.Info($"pod {pod.Namespace()}/{pod.Name()}: deleted in the API (grace period {pod.Metadata.DeletionGracePeriodSeconds ?? pod.Spec.TerminationGracePeriodSeconds ?? 30} s); stopping it.");
                        continue;
                    }
                    if (pod.Status?.Phase is "Succeeded" or "Failed" && !_admitted.ContainsKey(uid))
                    {
                        continue; // finished before this agent saw it: nothing to run.
                    }
                    if (_rejected.Contains(uid)) continue;
                    if (!_admitted.ContainsKey(uid))
                    {
                        var result = Eviction?.Admit(pod) is { Admitted: false } underPressure ? underPressure
                            : node() is { } n ? PodAdmission.Admit(n, pod, _admitted.Values) : AdmissionResult.Admit;
                        if (!result.Admitted)
                        {
                            _rejected.Add(uid);
                            log.Warning($"pod {pod.Namespace()}/{pod.Name()}: {result.Reason}: {result.Message}");
                            var rejected = KubeObjects.DeepCopy(pod);
                            rejected.Status = PodAdmission.RejectedStatus(pod, result);
                            statusSink.SetPodStatus(rejected);
                            continue;
                        }
                    }
                    _admitted[uid] = pod;
                    desired.Add(pod);
                }
            }
            ApiPodsChanged?.Invoke();
            yield return snapshot with { Pods = desired };
        }
    }
}
