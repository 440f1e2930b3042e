using k8s.Models;
using KubeletPS.Core.Pods.Config;

namespace KubeletPS.Core.Agent;

/// <summary>What a one-shot sync ended with: the pods' statuses, the manifests that were refused, and whether every pod settled.</summary>
public sealed record PodSyncOnceResult(IReadOnlyList<V1Pod> Pods, IReadOnlyList<PodSourceError> Errors, bool Settled)
{
    /// <summary>One line per pod, free of Kubernetes model types (for the cmdlets).</summary>
    public IReadOnlyList<PodSummary> Summaries => Pods.Select(PodSummary.From).ToList();
}

/// <summary>A pod's state in a few plain values: phase, ready containers, and the first problem.</summary>
public sealed record PodSummary(string Namespace, string Name, string Uid, string Phase, int ReadyContainers, int Containers, int Restarts, string? PodIp, string? Problem)
{
    public static PodSummary From(V1Pod pod)
    {
        var statuses = pod.Status?.ContainerStatuses ?? [];
        var problem = (pod.Status?.InitContainerStatuses ?? []).Concat(statuses)
            .Select(s => s.State?.Waiting is { Reason: { } r } w && r is not ("ContainerCreating" or "PodInitializing") ? $"{s.Name}: {r}{(string.IsNullOrEmpty(w.Message) ? "" : $": {w.Message}")}"
                : s.State?.Terminated is { ExitCode: not 0 } t ? $"{s.Name}: {t.Reason} (exit code {t.ExitCode})" : null)
            .FirstOrDefault(p => p is not null);
        return new PodSummary(pod.Namespace() ?? "default", pod.Name(), pod.Metadata.Uid, pod.Status?.Phase ?? "Pending",
            statuses.Count(s => s.Ready), pod.Spec.Containers?.Count ?? 0, statuses.Sum(s => s.RestartCount), pod.Status?.PodIP, problem);
    }
}
