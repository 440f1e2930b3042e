using k8s.Models;

namespace KubeletPS.Core.Pods.Probes;

/// <summary>
/// The probe results the pod actions are decided on (kubelet's liveness and startup results
/// managers): <see cref="ProbeManager"/> keeps them; the decision tests give their own.
/// </summary>
public interface IProbeResults
{
    /// <summary>Started: true when the container has no startup probe or it passed.</summary>
    bool IsStarted(V1Container container, string containerId);

    /// <summary>The failure that means the container must be restarted (liveness, or startup), if any.</summary>
    (ProbeType Type, ProbeOutcome Outcome)? RestartReason(string containerId);
}
