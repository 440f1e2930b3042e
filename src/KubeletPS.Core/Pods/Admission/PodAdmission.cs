using System.Globalization;
using k8s.Models;
using KubeletPS.Core.Pods.Manager;

namespace KubeletPS.Core.Pods.Admission;

/// <summary>Whether the kubelet may run a pod, and if not, why (the reason and message go on the pod's Failed status).</summary>
public sealed record AdmissionResult(bool Admitted, string? Reason, string? Message)
{
    public static readonly AdmissionResult Admit = new(true, null, null);
}

/// <summary>A pod's effective requests as the kubelet computes them (millicores, bytes, bytes).</summary>
public readonly record struct PodResourceRequests(long MilliCpu, long MemoryBytes, long EphemeralStorageBytes);

/// <summary>
/// Kubelet's predicate admission (pkg/kubelet/lifecycle/predicate.go, generalFilter) before a pod runs:
/// resources fit against the node's allocatable minus the already-admitted pods, node selector and required node
/// affinity, and NoExecute taints (the only effect the kubelet checks: the scheduler already placed the pod past
/// NoSchedule taints, and static pods are exempt). The first failing predicate decides, in kubelet's order.
/// </summary>
public static class PodAdmission
{
    public const string NodeAffinityReason = "NodeAffinity";
    public const string TaintTolerationReason = "TaintToleration";
    public const string UnexpectedAdmissionError = "UnexpectedAdmissionError";

    /// <param name="node">The node as registered (labels, taints, allocatable).</param>
    /// <param name="pod">The pod to admit.</param>
    /// <param name="admittedPods">Pods already admitted and not terminated (the pod itself is ignored if present).</param>
    public static AdmissionResult Admit(V1Node node, V1Pod pod, IEnumerable<V1Pod> admittedPods)
    {
        var others = admittedPods.Where(p => p.Metadata?.Uid != pod.Metadata?.Uid).ToList();
        if (CheckResources(node, pod, others) is { } insufficient) return insufficient;
        if (!MatchesNodeSelectorAndAffinity(pod, node))
            return Rejected(NodeAffinityReason, $"Predicate {NodeAffinityReason} failed");
        if (!MirrorPods.IsStaticPod(pod) && FindUntoleratedTaint(node.Spec?.Taints, pod.Spec?.Tolerations, t => t.Effect == "NoExecute") is not null)
            return Rejected(TaintTolerationReason, $"Predicate {TaintTolerationReason} failed");
        return AdmissionResult.Admit;
    }

    /// <summary>The status of a pod the kubelet refused: phase Failed with the rejection's reason and message.</summary>
    public static V1PodStatus RejectedStatus(V1Pod pod, AdmissionResult result)
    {
        if (result.Admitted) throw new ArgumentException("The pod was admitted.", nameof(result));
        return new V1PodStatus
        {
            Phase = "Failed",
            Reason = result.Reason,
            Message = result.Message,
            Conditions = pod.Status?.Conditions,
            StartTime = pod.Status?.StartTime,
        };
    }

    private static AdmissionResult Rejected(string reason, string message) => new(false, reason, "Pod was rejected: " + message);

    private static AdmissionResult? CheckResources(V1Node node, V1Pod pod, IReadOnlyList<V1Pod> others)
    {
        var allocatable = node.Status?.Allocatable ?? new Dictionary<string, ResourceQuantity>();
        long? Allocatable(string name, Func<ResourceQuantity, long> convert) =>
            allocatable.TryGetValue(name, out var q) ? convert(q) : null;

        if (Allocatable("pods", Count) is { } podCapacity && others.Count + 1 > podCapacity)
            return Insufficient("pods", 1, others.Count, podCapacity);

        var request = ComputeRequests(pod);
        var used = others.Select(ComputeRequests).Aggregate(new PodResourceRequests(0, 0, 0),
            (a, b) => new(a.MilliCpu + b.MilliCpu, a.MemoryBytes + b.MemoryBytes, a.EphemeralStorageBytes + b.EphemeralStorageBytes));
        // Kubelet checks a resource only when the pod requests some of it (noderesources.fitsRequest).
        if (request.MilliCpu > 0 && Allocatable("cpu", MilliValue) is { } cpu && request.MilliCpu > cpu - used.MilliCpu)
            return Insufficient("cpu", request.MilliCpu, used.MilliCpu, cpu);
        if (request.MemoryBytes > 0 && Allocatable("memory", Value) is { } memory && request.MemoryBytes > memory - used.MemoryBytes)
            return Insufficient("memory", request.MemoryBytes, used.MemoryBytes, memory);
        if (request.EphemeralStorageBytes > 0 && Allocatable("ephemeral-storage", Value) is { } storage
            && request.EphemeralStorageBytes > storage - used.EphemeralStorageBytes)
            return Insufficient("ephemeral-storage", request.EphemeralStorageBytes, used.EphemeralStorageBytes, storage);
        return null;
    }

    private static AdmissionResult Insufficient(string resource, long requested, long used, long capacity) =>
        Rejected("OutOf" + resource, string.Create(CultureInfo.InvariantCulture,
            $"Node didn't have enough resource: {resource}, requested: {requested}, used: {used}, capacity: {capacity}"));

    /// <summary>
    /// Kubelet's resource calculation (resourcehelper.PodRequests): the sum of the containers' requests, at least the
    /// largest init container's request (init containers run one at a time), plus the pod overhead. A restartable init
    /// container (sidecar, restartPolicy Always) keeps running, so it adds to the sum for everything after it.
    /// </summary>
    public static PodResourceRequests ComputeRequests(V1Pod pod)
    {
        var spec = pod.Spec;
        var sum = Sum(spec?.Containers ?? []);
        var sidecars = new PodResourceRequests(0, 0, 0);
        var initMax = new PodResourceRequests(0, 0, 0);
        foreach (var init in spec?.InitContainers ?? [])
        {
            var r = Requests(init);
            if (init.RestartPolicy == "Always")
            {
                sidecars = Add(sidecars, r);
                initMax = Max(initMax, sidecars);
            }
            else
            {
                initMax = Max(initMax, Add(r, sidecars));
            }
        }
        var total = Max(Add(sum, sidecars), initMax);
        if (spec?.Overhead is { } overhead) total = Add(total, FromList(overhead));
        return total;
    }

    private static PodResourceRequests Sum(IEnumerable<V1Container> containers) =>
        containers.Select(Requests).Aggregate(new PodResourceRequests(0, 0, 0), Add);

    private static PodResourceRequests Requests(V1Container container)
    {
        // An unset request defaults to the limit (the API server's defaulting; static pods skip it).
        var requests = new Dictionary<string, ResourceQuantity>(container.Resources?.Limits ?? new Dictionary<string, ResourceQuantity>());
        foreach (var (k, v) in container.Resources?.Requests ?? new Dictionary<string, ResourceQuantity>()) requests[k] = v;
        return FromList(requests);
    }

    private static PodResourceRequests FromList(IDictionary<string, ResourceQuantity> list) => new(
        list.TryGetValue("cpu", out var c) ? MilliValue(c) : 0,
        list.TryGetValue("memory", out var m) ? Value(m) : 0,
        list.TryGetValue("ephemeral-storage", out var e) ? Value(e) : 0);

    private static PodResourceRequests Add(PodResourceRequests a, PodResourceRequests b) =>
        new(a.MilliCpu + b.MilliCpu, a.MemoryBytes + b.MemoryBytes, a.EphemeralStorageBytes + b.EphemeralStorageBytes);

    private static PodResourceRequests Max(PodResourceRequests a, PodResourceRequests b) =>
        new(Math.Max(a.MilliCpu, b.MilliCpu), Math.Max(a.MemoryBytes, b.MemoryBytes), Math.Max(a.EphemeralStorageBytes, b.EphemeralStorageBytes));

    private static long MilliValue(ResourceQuantity q) => (long)Math.Ceiling(q.ToDecimal() * 1000m);

    private static long Value(ResourceQuantity q) => (long)Math.Ceiling(q.ToDecimal());

    private static long Count(ResourceQuantity q) => (long)q.ToDecimal();

    /// <summary>spec.nodeSelector and requiredDuringSchedulingIgnoredDuringExecution against the node's labels.</summary>
    public static bool MatchesNodeSelectorAndAffinity(V1Pod pod, V1Node node)
    {
        var labels = node.Metadata?.Labels ?? new Dictionary<string, string>();
        foreach (var (key, value) in pod.Spec?.NodeSelector ?? new Dictionary<string, string>())
        {
            if (!labels.TryGetValue(key, out var actual) || actual != value) return false;
        }
        if (pod.Spec?.Affinity?.NodeAffinity?.RequiredDuringSchedulingIgnoredDuringExecution is not { } required) return true;
        // Terms are ORed; an empty list matches nothing.
        return (required.NodeSelectorTerms ?? []).Any(term => MatchesTerm(term, labels, node.Metadata?.Name));
    }

    private static bool MatchesTerm(V1NodeSelectorTerm term, IDictionary<string, string> labels, string? nodeName)
    {
        var expressions = term.MatchExpressions ?? [];
        var fields = term.MatchFields ?? [];
        if (expressions.Count == 0 && fields.Count == 0) return false;
        return expressions.All(r => Matches(r, labels.TryGetValue(r.Key, out var v) ? v : null))
            && fields.All(r => r.Key == "metadata.name" && Matches(r, nodeName));
    }

    private static bool Matches(V1NodeSelectorRequirement requirement, string? value)
    {
        var values = requirement.Values ?? [];
        return requirement.OperatorProperty switch
        {
            "In" => value is not null && values.Contains(value),
            "NotIn" => value is null || !values.Contains(value),
            "Exists" => value is not null,
            "DoesNotExist" => value is null,
            "Gt" => value is not null && values.Count == 1 && long.TryParse(value, out var a) && long.TryParse(values[0], out var b) && a > b,
            "Lt" => value is not null && values.Count == 1 && long.TryParse(value, out var c) && long.TryParse(values[0], out var d) && c < d,
            _ => false,
        };
    }

    /// <summary>The first taint passing <paramref name="filter"/> that no toleration tolerates, or null.</summary>
    public static V1Taint? FindUntoleratedTaint(IEnumerable<V1Taint>? taints, IEnumerable<V1Toleration>? tolerations, Func<V1Taint, bool> filter)
    {
        var list = tolerations?.ToList() ?? [];
        return (taints ?? []).Where(filter).FirstOrDefault(t => !list.Any(tol => Tolerates(tol, t)));
    }

    /// <summary>v1.Toleration.ToleratesTaint.</summary>
    public static bool Tolerates(V1Toleration toleration, V1Taint taint)
    {
        if (!string.IsNullOrEmpty(toleration.Effect) && toleration.Effect != taint.Effect) return false;
        if (!string.IsNullOrEmpty(toleration.Key) && toleration.Key != taint.Key) return false;
        return toleration.OperatorProperty switch
        {
            null or "" or "Equal" => (toleration.Value ?? "") == (taint.Value ?? ""),
            "Exists" => true,
            _ => false,
        };
    }
}
