using System.Collections.Concurrent;
using k8s.Models;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.Probes;

public enum ProbeType { Liveness, Readiness, Startup }

/// <summary>
/// Kubelet's probe manager: one prober worker per running container and probe type. Workers wait
/// initialDelaySeconds after the container started, probe every periodSeconds with
/// timeoutSeconds, and flip their result after successThreshold successes or failureThreshold
/// failures. Until a startup probe succeeds, liveness and readiness are not probed. A changed result
/// wakes the pod's worker: readiness feeds the Ready condition, a liveness or startup failure makes
/// the pod worker kill and restart the container. Every probe that does not pass records a Warning
/// Unhealthy event on the container, as kubelet's prober does.
/// </summary>
public sealed class ProbeManager(Prober prober, IKubeletLog log, TimeProvider? time = null) : IProbeResults, IAsyncDisposable
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<(string ContainerId, ProbeType Type), ProbeWorker> _workers = new();
    private readonly ConcurrentDictionary<(string ContainerId, ProbeType Type), ProbeOutcome> _results = new();

    /// <summary>Where Unhealthy events go; nowhere in standalone mode.</summary>
    public IEventRecorder Events { get; set; } = NullEventRecorder.Instance;

    /// <summary>Where probe runs are counted and timed (/metrics/probes); none when null.</summary>
    public Metrics.KubeletMetricSet? Metrics { get; init; }

    /// <summary>Raised (on a prober thread) with the pod UID when a probe result of one of its containers changed: its worker syncs it again.</summary>
    public event Action<string>? ResultChanged;

    /// <summary>Kubelet's Unhealthy message (pkg/kubelet/prober): "Liveness probe failed: OUTPUT", or "… errored" when the probe could not run.</summary>
    public static string UnhealthyMessage(ProbeType type, ProbeOutcome outcome) => outcome.Result == ProbeResult.Unknown
        ? $"{type} probe errored and resulted in unknown state: {outcome.Message}"
        : $"{type} probe failed: {outcome.Output ?? outcome.Message}";

    /// <summary>Starts workers for the pod's running containers that have probes; stops those of containers that are gone.</summary>
    public void UpdatePod(V1Pod pod, RuntimePodStatus status, string? podIp)
    {
        var uid = pod.Metadata.Uid;
        var wanted = new HashSet<(string, ProbeType)>();
        foreach (var container in pod.Spec.Containers ?? [])
        {
            var latest = status.Latest(container.Name);
            if (latest is not { State: ContainerState.Running } || latest.Status.StartedAt is not { } startedAt) continue;
            foreach (var (type, probe) in new[] { (ProbeType.Startup, container.StartupProbe), (ProbeType.Liveness, container.LivenessProbe), (ProbeType.Readiness, container.ReadinessProbe) })
            {
                if (probe is null) continue;
                var key = (latest.Id, type);
                wanted.Add(key);
                _workers.GetOrAdd(key, _ =>
                {
                    var worker = new ProbeWorker(this, pod, container, latest.Id, type, probe, startedAt, podIp, container.StartupProbe is not null);
                    worker.Start();
                    return worker;
                });
            }
        }
        foreach (var (key, worker) in _workers)
        {
            if (worker.PodUid == uid && !wanted.Contains(key)) StopWorker(key);
        }
    }

    public void RemovePod(string uid)
    {
        foreach (var (key, worker) in _workers)
        {
            if (worker.PodUid == uid) StopWorker(key);
        }
    }

    /// <summary>Readiness: true when the container has no readiness probe or it passed.</summary>
    public bool IsReady(V1Container container, string containerId)
    {
        if (container.StartupProbe is not null && !IsStarted(container, containerId)) return false;
        if (container.ReadinessProbe is null) return true;
        return _results.TryGetValue((containerId, ProbeType.Readiness), out var r) && r.Result == ProbeResult.Success;
    }

    /// <summary>Started: true when the container has no startup probe or it passed.</summary>
    public bool IsStarted(V1Container container, string containerId)
    {
        if (container.StartupProbe is null) return true;
        return _results.TryGetValue((containerId, ProbeType.Startup), out var r) && r.Result == ProbeResult.Success;
    }

    /// <summary>The failure that means the container must be restarted (liveness, or startup), if any.</summary>
    public (ProbeType Type, ProbeOutcome Outcome)? RestartReason(string containerId)
    {
        if (_results.TryGetValue((containerId, ProbeType.Startup), out var s) && s.Result == ProbeResult.Failure) return (ProbeType.Startup, s);
        if (_results.TryGetValue((containerId, ProbeType.Liveness), out var l) && l.Result == ProbeResult.Failure) return (ProbeType.Liveness, l);
        return null;
    }

    private void StopWorker((string, ProbeType) key)
    {
        if (_workers.TryRemove(key, out var worker)) worker.Stop();
        _results.TryRemove(key, out _);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var key in _workers.Keys.ToList())
        {
            if (_workers.TryRemove(key, out var worker))
            {
                worker.Stop();
                await worker.Completion.ConfigureAwait(false);
            }
        }
    }

    private sealed class ProbeWorker(ProbeManager manager, V1Pod pod, V1Container container, string containerId, ProbeType type, V1Probe probe, DateTimeOffset startedAt, string? podIp, bool hasStartupProbe)
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly string _podName = pod.Name();
        public string PodUid => pod.Metadata.Uid;
        public Task Completion { get; private set; } = Task.CompletedTask;

        public void Start() => Completion = Task.Run(RunAsync);

        public void Stop()
        {
            try { _stop.Cancel(); } catch (ObjectDisposedException) { }
            // As kubelet's worker on exit: its series go with it.
            if (manager.Metrics is { } metrics)
            {
                foreach (var result in (string[])["successful", "failed", "unknown"]) metrics.ProbeTotal.Remove(ResultLabels(result));
                metrics.ProbeDuration.Remove(DurationLabels);
            }
        }

        private string TypeLabel => type.ToString();

        private string[] ResultLabels(string result) => [TypeLabel, result, container.Name, _podName, pod.Namespace() ?? "", PodUid];

        private string[] DurationLabels => [TypeLabel, container.Name, _podName, pod.Namespace() ?? ""];

        /// <summary>kubelet's probe metrics for one run: a success is counted and timed, a failure counted; a probe that could not run (kubelet's prober error) neither.</summary>
        private void Record(ProbeOutcome outcome, TimeSpan took)
        {
            if (manager.Metrics is not { } metrics || outcome.Result == ProbeResult.Unknown) return;
            metrics.ProbeTotal.Inc(ResultLabels(outcome.Result == ProbeResult.Success ? "successful" : "failed"));
            if (outcome.Result == ProbeResult.Success) metrics.ProbeDuration.Observe(took, DurationLabels);
        }

        private async Task RunAsync()
        {
            var ct = _stop.Token;
            var time = manager._time;
            var period = TimeSpan.FromSeconds(Math.Max(1, probe.PeriodSeconds ?? 10));
            var successThreshold = Math.Max(1, probe.SuccessThreshold ?? 1);
            var failureThreshold = Math.Max(1, probe.FailureThreshold ?? 3);
            int successes = 0, failures = 0;
            try
            {
                var firstAt = startedAt + TimeSpan.FromSeconds(probe.InitialDelaySeconds ?? 0);
                var wait = firstAt - time.GetUtcNow();
                if (wait > TimeSpan.Zero) await Task.Delay(wait, time, ct).ConfigureAwait(false);
                while (!ct.IsCancellationRequested)
                {
                    var key = (containerId, type);
                    if (type != ProbeType.Startup && hasStartupProbe && !manager.IsStarted(container, containerId))
                    {
                        // Liveness and readiness wait for the startup probe.
                    }
                    else
                    {
                        var probeStarted = time.GetTimestamp();
                        var outcome = await manager.Run(probe, container, containerId, podIp, ct).ConfigureAwait(false);
                        Record(outcome, time.GetElapsedTime(probeStarted));
                        if (outcome.Result != ProbeResult.Success)
                            manager.Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Warning, EventReasons.Unhealthy, UnhealthyMessage(type, outcome));
                        // As kubelet's probe worker: a probe that could not run (errored, Unknown) is
                        // recorded as an event but counts neither as a success nor as a failure.
                        if (outcome.Result == ProbeResult.Unknown)
                        {
                            manager.LogErrored(_podName, container.Name, type, outcome);
                            await Task.Delay(period, time, ct).ConfigureAwait(false);
                            continue;
                        }
                        if (outcome.Result == ProbeResult.Success) { successes++; failures = 0; }
                        else { failures++; successes = 0; }
                        var current = manager._results.GetValueOrDefault(key);
                        ProbeOutcome? next = null;
                        if (outcome.Result == ProbeResult.Success && successes >= (type == ProbeType.Readiness ? successThreshold : 1) && current?.Result != ProbeResult.Success)
                            next = outcome;
                        else if (outcome.Result != ProbeResult.Success && failures >= failureThreshold && current?.Result != ProbeResult.Failure)
                            next = new ProbeOutcome(ProbeResult.Failure, outcome.Message);
                        if (next is not null)
                        {
                            manager._results[key] = next;
                            manager.Report(PodUid, _podName, container.Name, type, next);
                            // Startup probing ends with success; a liveness or startup failure waits for the restart.
                            if (type == ProbeType.Startup && next.Result == ProbeResult.Success) return;
                            if (type != ProbeType.Readiness && next.Result == ProbeResult.Failure) return;
                        }
                    }
                    await Task.Delay(period, time, ct).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                manager.LogUnexpected(_podName, container.Name, type, e);
            }
        }
    }

    private Task<ProbeOutcome> Run(V1Probe probe, V1Container container, string containerId, string? podIp, CancellationToken ct)
        => prober.RunAsync(probe, container, containerId, podIp, ct);

    private void Report(string podUid, string podName, string containerName, ProbeType type, ProbeOutcome outcome)
    {
        if (outcome.Result == ProbeResult.Success)
            log.Info($"pod {podName} container {containerName}: {type.ToString().ToLowerInvariant()} probe succeeded.");
        else
            log.Info($"pod {podName} container {containerName}: {type.ToString().ToLowerInvariant()} probe failed: {outcome.Message}");
        ResultChanged?.Invoke(podUid);
    }

    private void LogUnexpected(string podName, string containerName, ProbeType type, Exception e)
        => log.Warning($"pod {podName} container {containerName}: {type.ToString().ToLowerInvariant()} prober stopped: {e.Message}");

    private void LogErrored(string podName, string containerName, ProbeType type, ProbeOutcome outcome)
        => log.Debug($"pod {podName} container {containerName}: {type.ToString().ToLowerInvariant()} probe errored, not counted: {outcome.Message}");
}
