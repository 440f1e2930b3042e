using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Benchmarks;

/// <summary>One CRI call as the trace saw it: which pod it was for (when the call names one), and when it began and ended.</summary>
public sealed record CriCall(string Operation, string? Pod, double BeginMs, double EndMs)
{
    public double Ms => EndMs - BeginMs;
}

/// <summary>
/// Every CRI call the engine makes, with its pod and its begin and end time: a proxy over the runtime
/// and image services (for --trace). The pod is the sandbox spec's name, or the pod a sandbox or
/// container ID belongs to once its create call returned it. The sandbox and container specs the
/// agent sent are kept, so the same requests can be replayed by direct calls.
/// </summary>
public sealed class CriTrace
{
    private readonly ConcurrentQueue<CriCall> _calls = new();
    private readonly ConcurrentDictionary<string, string> _podOfId = new(StringComparer.Ordinal);
    private long _start = Stopwatch.GetTimestamp();

    /// <summary>What the agent asked for, by pod name, in the order of its RunPodSandbox calls.</summary>
    public ConcurrentDictionary<string, (PodSandboxSpec Sandbox, ContainerSpec? Container)> Requests { get; } = new(StringComparer.Ordinal);

    public void Start()
    {
        _start = Stopwatch.GetTimestamp();
        _calls.Clear();
        Requests.Clear();
    }

    public double Now => Stopwatch.GetElapsedTime(_start).TotalMilliseconds;

    public IReadOnlyList<CriCall> Calls => _calls.ToArray();

    public T Wrap<T>(T target) where T : class
    {
        var proxy = DispatchProxy.Create<T, Proxy>();
        var p = (Proxy)(object)proxy;
        p.Target = target;
        p.Trace = this;
        return proxy;
    }

    private void Begin(MethodInfo method, object?[]? args, out string? pod)
    {
        pod = null;
        foreach (var a in args ?? [])
        {
            if (a is PodSandboxSpec s) { pod = s.Name; break; }
            if (a is string id && _podOfId.TryGetValue(id, out var p)) { pod = p; break; }
        }
        if (method.Name == nameof(IRuntimeService.RunPodSandboxAsync) && args?[0] is PodSandboxSpec sandbox) Requests.TryAdd(sandbox.Name, (sandbox, null));
        if (method.Name == nameof(IRuntimeService.CreateContainerAsync) && args?[2] is PodSandboxSpec owner && args[1] is ContainerSpec container)
            Requests.AddOrUpdate(owner.Name, (owner, container), (_, v) => v with { Container = container });
    }

    private void End(string operation, string? pod, double begin, object? result)
    {
        if (pod is not null && result is string id) _podOfId[id] = pod;
        _calls.Enqueue(new CriCall(operation, pod, begin, Now));
    }

    /// <summary>Per pod, in the order its calls began: "RunPodSandbox 180 | +3 PodSandboxStatus 2 | ..." (ms; "+N" the time between the previous call's end and this one's begin).</summary>
    public static IEnumerable<string> PodLines(IEnumerable<CriCall> calls, IReadOnlyDictionary<string, double>? requestedMs = null)
    {
        foreach (var pod in calls.Where(c => c.Pod is not null).GroupBy(c => c.Pod!).OrderBy(g => g.Min(c => c.BeginMs)))
        {
            var line = new System.Text.StringBuilder();
            var previous = requestedMs?.GetValueOrDefault(pod.Key) ?? double.NaN;
            line.Append($"{pod.Key,-10}");
            foreach (var c in pod.OrderBy(c => c.BeginMs))
            {
                var gap = double.IsNaN(previous) ? "" : $"+{c.BeginMs - previous:F0} ";
                line.Append($" | {gap}{c.Operation.Replace("Async", "", StringComparison.Ordinal)} {c.Ms:F0}");
                previous = Math.Max(double.IsNaN(previous) ? 0 : previous, c.EndMs);
            }
            yield return line.ToString();
        }
    }

    /// <summary>
    /// The pod-start calls summed over the pods (their own time in the runtime), and the time each pod
    /// held between its RunPodSandbox's begin and its StartContainer's end that no call of its own
    /// covered (the engine's own time inside a start slot).
    /// </summary>
    public static string Summary(IEnumerable<CriCall> calls)
    {
        var byPod = calls.Where(c => c.Pod is not null).GroupBy(c => c.Pod!).ToList();
        var sums = calls.Where(c => c.Pod is not null).GroupBy(c => c.Operation.Replace("Async", "", StringComparison.Ordinal))
            .Select(g => $"{g.Key} {g.Count()}× p50 {Median(g.Select(c => c.Ms)):F0} avg {g.Average(c => c.Ms):F0}").ToList();
        var own = new List<double>();
        var slot = new List<double>();
        foreach (var pod in byPod)
        {
            var sandbox = pod.Where(c => c.Operation.StartsWith("RunPodSandbox", StringComparison.Ordinal)).Select(c => c.BeginMs).DefaultIfEmpty(double.NaN).Min();
            var started = pod.Where(c => c.Operation.StartsWith("StartContainer", StringComparison.Ordinal)).Select(c => c.EndMs).DefaultIfEmpty(double.NaN).Max();
            if (double.IsNaN(sandbox) || double.IsNaN(started)) continue;
            slot.Add(started - sandbox);
            // The part of [sandbox, started] covered by none of the pod's calls.
            var covered = 0.0;
            var until = sandbox;
            foreach (var c in pod.Where(c => c.EndMs > sandbox && c.BeginMs < started).OrderBy(c => c.BeginMs))
            {
                var b = Math.Max(c.BeginMs, until);
                var e = Math.Min(c.EndMs, started);
                if (e > b) covered += e - b;
                until = Math.Max(until, e);
            }
            own.Add(started - sandbox - covered);
        }
        return $"per pod: {string.Join(", ", sums)}; RunPodSandbox begin → StartContainer end p50 {Median(slot):F0} ms, " +
               $"of which in no call of the pod's own p50 {Median(own):F0} ms (sum over the pods {own.Sum():F0} ms)";
    }

    private static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToArray();
        return s.Length == 0 ? 0 : s[(s.Length - 1) / 2];
    }

    /// <summary>The proxy <see cref="DispatchProxy"/> builds: times each call that returns a task.</summary>
    public class Proxy : DispatchProxy
    {
        internal object Target { get; set; } = null!;
        internal CriTrace Trace { get; set; } = null!;

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            ArgumentNullException.ThrowIfNull(targetMethod);
            if (!typeof(Task).IsAssignableFrom(targetMethod.ReturnType)) return Invoke(targetMethod, Target, args);
            Trace.Begin(targetMethod, args, out var pod);
            var begin = Trace.Now;
            var task = (Task)Invoke(targetMethod, Target, args)!;
            task.ContinueWith(t =>
            {
                object? result = null;
                if (t.IsCompletedSuccessfully && t.GetType().IsGenericType) result = t.GetType().GetProperty("Result")!.GetValue(t);
                Trace.End(targetMethod.Name, pod, begin, result);
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return task;
        }

        private static object? Invoke(MethodInfo method, object target, object?[]? args)
        {
            try
            {
                return method.Invoke(target, args);
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                throw;
            }
        }
    }
}
