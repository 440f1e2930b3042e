using k8s.Models;
using KubeletPS.Core.Api;
using KubeletPS.Core.Pods.KubeRuntime;

namespace KubeletPS.Core.Pods.Admission;

/// <summary>
/// Runs <see cref="PodSecurityAdmission"/> once for each new pod of every source (kubelet's canAdmitPod in
/// HandlePodAdditions) and remembers the outcome: the pods admitted and still desired, whose host ports a new pod is
/// checked against, and the pods refused, each with its Failed status (they never reach a worker).
/// </summary>
/// <param name="settings">The node's security settings.</param>
/// <param name="finishedUids">The pods whose workers report Succeeded or Failed (their host ports are free again); read only when a pod asks for host ports.</param>
public sealed class SecurityAdmitHandler(PodSecuritySettings settings, Func<IEnumerable<string>> finishedUids)
{
    private readonly Dictionary<string, V1Pod> _admitted = new(StringComparer.Ordinal);
    private readonly Dictionary<string, V1Pod> _rejected = new(StringComparer.Ordinal);
    private readonly object _lock = new();

    /// <summary>The refused pods with their Failed status.</summary>
    public IReadOnlyList<V1Pod> Rejected
    {
        get { lock (_lock) return _rejected.Values.ToList(); }
    }

    /// <summary>
    /// Admitted when the pod may run (admitted before, already running per <paramref name="running"/>, or passing now);
    /// NewlyRefused with the pod carrying its Failed status and the decision the first time it is refused; Refused after.
    /// </summary>
    public (AdmitOutcome Outcome, V1Pod? RejectedPod, AdmissionResult? Result) Admit(V1Pod pod, bool running)
    {
        var uid = pod.Metadata.Uid;
        lock (_lock)
        {
            if (_rejected.ContainsKey(uid)) return (AdmitOutcome.Refused, null, null);
            if (_admitted.ContainsKey(uid) || running)
            {
                _admitted[uid] = pod;
                return (AdmitOutcome.Admitted, null, null);
            }
            var finished = new Lazy<HashSet<string>>(() => finishedUids().ToHashSet(StringComparer.Ordinal));
            var active = _admitted.Values.Where(p => !finished.Value.Contains(p.Metadata.Uid));
            var result = PodSecurityAdmission.Admit(pod, active, settings);
            if (result.Admitted)
            {
                _admitted[uid] = pod;
                return (AdmitOutcome.Admitted, null, result);
            }
            var rejected = KubeObjects.DeepCopy(pod);
            rejected.Status = PodAdmission.RejectedStatus(pod, result);
            _rejected[uid] = rejected;
            return (AdmitOutcome.NewlyRefused, rejected, result);
        }
    }

    /// <summary>The pod left every source; true when it was a refused one (it has no worker to clean up after it).</summary>
    public bool Forget(string uid)
    {
        lock (_lock)
        {
            _admitted.Remove(uid);
            return _rejected.Remove(uid);
        }
    }
}

public enum AdmitOutcome
{
    Admitted,
    NewlyRefused,
    Refused,
}
