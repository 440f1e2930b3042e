using k8s.Models;

namespace KubeletPS.Core.Pods.Eviction;

/// <summary>Why a pod was evicted: its status reason (Evicted) and message, and the grace period its containers are killed with.</summary>
internal sealed record PodEviction(string Reason, string Message, DateTime At, TimeSpan GracePeriod = default)
{
    /// <summary>The status an evicted pod reports: Failed with the reason and message, and kubelet's DisruptionTarget condition.</summary>
    public V1PodStatus Apply(V1PodStatus status)
    {
        status.Phase = "Failed";
        status.Reason = Reason;
        status.Message = Message;
        var conditions = (status.Conditions ?? []).Where(c => c.Type != "DisruptionTarget").ToList();
        conditions.Add(new V1PodCondition
        {
            Type = "DisruptionTarget",
            Status = "True",
            Reason = "TerminationByKubelet",
            Message = Message,
            LastTransitionTime = At,
        });
        status.Conditions = conditions;
        return status;
    }
}
