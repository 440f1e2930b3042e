using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using k8s;
using k8s.Models;
using KubeletPS.Core.Api;

namespace KubeletPS.Core.Pods.Events;

/// <summary>Where the pod workers, probes and node code record what happened, as client-go's EventRecorder. Never blocks.</summary>
public interface IEventRecorder
{
    void Event(V1ObjectReference involvedObject, string type, string reason, string message);
}

public static class EventTypes
{
    public const string Normal = "Normal";
    public const string Warning = "Warning";
}

/// <summary>Kubelet's event reasons (pkg/kubelet/events).</summary>
public static class EventReasons
{
    public const string Scheduled = "Scheduled";
    public const string Pulling = "Pulling";
    public const string Pulled = "Pulled";
    public const string Failed = "Failed";
    public const string ErrImageNeverPull = "ErrImageNeverPull";
    public const string BackOff = "BackOff";
    public const string Created = "Created";
    public const string Started = "Started";
    public const string Killing = "Killing";
    public const string Unhealthy = "Unhealthy";
    public const string ProbeWarning = "ProbeWarning";
    public const string FailedMount = "FailedMount";
    public const string FailedCreatePodSandBox = "FailedCreatePodSandBox";
    public const string SandboxChanged = "SandboxChanged";
    public const string NodeReady = "NodeReady";
    public const string NodeNotReady = "NodeNotReady";
    public const string Starting = "Starting";
}

public static class EventRecorderExtensions
{
    public static void Eventf(this IEventRecorder recorder, V1ObjectReference involvedObject, string type, string reason, string format, params object?[] args) =>
        recorder.Event(involvedObject, type, reason, string.Format(CultureInfo.InvariantCulture, format, args));
}

/// <summary>Drops every event: standalone mode has no API server to record them in.</summary>
public sealed class NullEventRecorder : IEventRecorder
{
    public static readonly NullEventRecorder Instance = new();

    public void Event(V1ObjectReference involvedObject, string type, string reason, string message) { }
}

/// <summary>The involvedObject references kubelet puts on its events.</summary>
public static class EventReferences
{
    /// <summary>The pod, or one of its containers (fieldPath spec.containers{NAME} / spec.initContainers{NAME}).</summary>
    public static V1ObjectReference ForPod(V1Pod pod, string? containerName = null)
    {
        string? fieldPath = null;
        if (containerName is not null)
        {
            var list = pod.Spec?.InitContainers?.Any(c => c.Name == containerName) == true ? "initContainers"
                : pod.Spec?.EphemeralContainers?.Any(c => c.Name == containerName) == true ? "ephemeralContainers" : "containers";
            fieldPath = $"spec.{list}{{{containerName}}}";
        }
        return new V1ObjectReference
        {
            ApiVersion = "v1",
            Kind = "Pod",
            NamespaceProperty = pod.Metadata.NamespaceProperty,
            Name = pod.Metadata.Name,
            Uid = pod.Metadata.Uid,
            ResourceVersion = pod.Metadata.ResourceVersion,
            FieldPath = fieldPath,
        };
    }

    /// <summary>The node, as kubelet refers to it: its name also stands as its UID.</summary>
    public static V1ObjectReference ForNode(string nodeName) => new() { Kind = "Node", Name = nodeName, Uid = nodeName };
}

/// <summary>Limits of <see cref="EventRecorder"/>: kubelet's eventRecordQPS/eventBurst and client-go's correlator.</summary>
public sealed record EventRecorderOptions
{
    public double Qps { get; init; } = 50;
    public int Burst { get; init; } = 100;
    /// <summary>Events waiting to be sent; more are dropped (client-go's broadcaster holds 1000).</summary>
    public int QueueSize { get; init; } = 1000;
    /// <summary>An identical event within this window updates the existing Event (count, lastTimestamp).</summary>
    public TimeSpan AggregationWindow { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Similar events (same object, type, reason) with this many different messages in the window are combined into one.</summary>
    public int SimilarEventsBeforeCombining { get; init; } = 10;
    /// <summary>Events one source may send about one object at once (client-go's spam filter burst)…</summary>
    public int SpamBurst { get; init; } = 25;
    /// <summary>…and then one per this interval (client-go: 1/300 per second).</summary>
    public TimeSpan SpamRefillInterval { get; init; } = TimeSpan.FromMinutes(5);
    public int CacheSize { get; init; } = 4096;
    public int MaxAttempts { get; init; } = 3;
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Kubelet's event recorder (client-go record package with core/v1 Events): <see cref="Event"/> queues
/// and returns at once; a background sender creates the Event (source kubelet/NODE, reportingComponent
/// kubelet, reportingInstance NODE). An event identical to one sent within the aggregation window (same
/// involved object, type, reason, message and source) patches that Event's count and lastTimestamp
/// instead, as client-go's EventLogger; similar events are combined and each object's events are
/// spam-filtered first (<see cref="EventCorrelator"/>), and a token bucket (QPS, burst) limits the requests, so a crash
/// loop cannot flood the API server; the queue is bounded and drops beyond it. Failed sends are
/// retried a few times, then dropped and logged.
/// </summary>
public sealed class EventRecorder : IEventRecorder, IAsyncDisposable
{
    private readonly IKubernetes _client;
    private readonly ApiIdentity _identity;
    private readonly string _nodeName;
    private readonly IKubeletLog _log;
    private readonly EventRecorderOptions _options;
    private readonly TimeProvider _time;
    private readonly Channel<(Corev1Event Event, string Key)> _queue;
    private readonly EventCorrelator _correlator;
    private readonly Dictionary<string, Observed> _cache = [];
    private readonly TokenBucket _limiter;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sender;
    private int _pending;
    private int _dropped;
    private int _filtered;
    private long _lastNameStamp;

    public EventRecorder(IKubernetes client, ApiIdentity identity, string nodeName, IKubeletLog? log = null, EventRecorderOptions? options = null, TimeProvider? time = null)
    {
        _client = client;
        _identity = identity;
        _nodeName = nodeName;
        _log = log ?? NullKubeletLog.Instance;
        _options = options ?? new EventRecorderOptions();
        _time = time ?? TimeProvider.System;
        _limiter = new TokenBucket(_options.Qps, _options.Burst, _time);
        _correlator = new EventCorrelator(_options, _time);
        _queue = Channel.CreateBounded<(Corev1Event, string)>(new BoundedChannelOptions(_options.QueueSize) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
        _sender = Task.Run(() => SendLoopAsync(_stop.Token));
    }

    private sealed record Observed(string Name, string Namespace, int Count, DateTime FirstTimestamp, DateTime LastTimestamp);

    /// <summary>Events queued or being sent.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>Events dropped: the queue was full, or the API server refused them after retries.</summary>
    public int Dropped => Volatile.Read(ref _dropped);

    /// <summary>Events the spam filter held back (too many about one object).</summary>
    public int Filtered => Volatile.Read(ref _filtered);

    public void Event(V1ObjectReference involvedObject, string type, string reason, string message)
    {
        // kubelet logs every event it records at V(3) (StartStructuredLogging(3)), with the object and reason as fields.
        _log.Write(EventLogRecord(involvedObject, type, reason, message));
        var now = _time.GetUtcNow().UtcDateTime;
        var e = new Corev1Event
        {
            Metadata = new V1ObjectMeta { NamespaceProperty = string.IsNullOrEmpty(involvedObject.NamespaceProperty) ? "default" : involvedObject.NamespaceProperty },
            InvolvedObject = involvedObject,
            Type = type,
            Reason = reason,
            Message = message,
            Source = new V1EventSource { Component = "kubelet", Host = _nodeName },
            ReportingComponent = "kubelet",
            ReportingInstance = _nodeName,
            FirstTimestamp = now,
            LastTimestamp = now,
            Count = 1,
        };
        if (_correlator.Correlate(e) is not { } correlated)
        {
            Interlocked.Increment(ref _filtered);
            return;
        }
        Interlocked.Increment(ref _pending);
        if (!_queue.Writer.TryWrite(correlated))
        {
            Interlocked.Decrement(ref _pending);
            Interlocked.Increment(ref _dropped);
            _log.Debug($"Event queue full; dropped {type} {reason} for {involvedObject.Kind} {involvedObject.Name}: {message}");
        }
    }

    /// <summary>The structured log record of an event: POD/NAMESPACE for a pod, CONTAINER from the field path spec.containers{name}.</summary>
    public static KubeletLogRecord EventLogRecord(V1ObjectReference involvedObject, string type, string reason, string message)
    {
        var path = involvedObject.FieldPath;
        var open = path?.IndexOf('{', StringComparison.Ordinal) ?? -1;
        var container = open >= 0 && path!.EndsWith('}') ? path[(open + 1)..^1] : null;
        var isPod = involvedObject.Kind == "Pod";
        return new KubeletLogRecord(KubeletLogLevel.Info,
            $"Event occurred: {involvedObject.Kind} {involvedObject.NamespaceProperty}/{involvedObject.Name} {type} {reason}: {message}")
        {
            Pod = isPod ? involvedObject.Name : null,
            Namespace = isPod ? involvedObject.NamespaceProperty : null,
            Container = container,
            Reason = reason,
            Verbosity = 3,
        };
    }

    /// <summary>Waits until every queued event has been sent or dropped (tests; shutdown).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        while (Pending > 0) await Task.Delay(20, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        _stop.Cancel();
        try { await _sender.ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        _stop.Dispose();
    }

    private async Task SendLoopAsync(CancellationToken cancellationToken)
    {
        await foreach (var (e, key) in _queue.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await SendAsync(e, key, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception x) when (x is not OperationCanceledException)
            {
                Interlocked.Increment(ref _dropped);
                _log.Warning($"Event {e.Reason} for {e.InvolvedObject.Kind} {e.InvolvedObject.Name} dropped: {x.Message}");
            }
            finally
            {
                Interlocked.Decrement(ref _pending);
            }
        }
    }

    private async Task SendAsync(Corev1Event e, string key, CancellationToken cancellationToken)
    {
        var now = e.LastTimestamp!.Value;
        var aggregate = _cache.TryGetValue(key, out var seen) && now - seen.LastTimestamp <= _options.AggregationWindow;
        for (var attempt = 1; ; attempt++)
        {
            await _limiter.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (aggregate)
                {
                    var count = seen!.Count + 1;
                    try
                    {
                        await PatchAsync(seen, count, e, cancellationToken).ConfigureAwait(false);
                        Remember(key, seen with { Count = count, LastTimestamp = now });
                        return;
                    }
                    catch (KubeletApiException p) when (p.IsNotFound)
                    {
                        // The Event expired (TTL) or was deleted: start a new one.
                        aggregate = false;
                        continue;
                    }
                }
                e.Metadata.Name = NewName(e.InvolvedObject.Name, now);
                var created = await ApiCall.RunAsync(_identity, "create", "events", e.Metadata.Name,
                    () => _client.CoreV1.CreateNamespacedEventAsync(e, e.Metadata.NamespaceProperty, cancellationToken: cancellationToken),
                    cancellationToken).ConfigureAwait(false);
                Remember(key, new Observed(created.Metadata.Name, created.Metadata.NamespaceProperty, 1, now, now));
                return;
            }
            catch (KubeletApiException x) when (x.IsTransient && attempt < _options.MaxAttempts)
            {
                await Task.Delay(_options.RetryDelay, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (KubeletApiException x)
            {
                Interlocked.Increment(ref _dropped);
                _log.Warning($"Event {e.Reason} for {e.InvolvedObject.Kind} {e.InvolvedObject.Name} dropped after {attempt} attempt(s): {x.Message}");
                return;
            }
        }
    }

    private Task PatchAsync(Observed seen, int count, Corev1Event e, CancellationToken cancellationToken)
    {
        var patch = new JsonObject
        {
            ["count"] = count,
            ["lastTimestamp"] = e.LastTimestamp!.Value.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            ["message"] = e.Message,
        }.ToJsonString();
        return ApiCall.RunAsync(_identity, "patch", "events", seen.Name,
            () => _client.CoreV1.PatchNamespacedEventAsync(new V1Patch(patch, V1Patch.PatchType.StrategicMergePatch), seen.Name, seen.Namespace, cancellationToken: cancellationToken),
            cancellationToken);
    }

    private void Remember(string key, Observed observed)
    {
        _cache[key] = observed;
        if (_cache.Count <= _options.CacheSize) return;
        var oldest = _cache.MinBy(kv => kv.Value.LastTimestamp).Key;
        _cache.Remove(oldest);
    }

    /// <summary>client-go's name: the object's name and the time in nanoseconds, in hex; kept unique within this recorder.</summary>
    private string NewName(string objectName, DateTime now)
    {
        var stamp = (now - DateTime.UnixEpoch).Ticks * 100;
        if (stamp <= _lastNameStamp) stamp = _lastNameStamp + 1;
        _lastNameStamp = stamp;
        return $"{objectName}.{stamp:x}";
    }

    /// <summary>A token bucket (client-go's flowcontrol token bucket rate limiter): Burst tokens, refilled at Qps.</summary>
    private sealed class TokenBucket(double qps, int burst, TimeProvider time)
    {
        private double _tokens = burst;
        private long _last = time.GetTimestamp();

        public async Task WaitAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var now = time.GetTimestamp();
                _tokens = Math.Min(burst, _tokens + time.GetElapsedTime(_last, now).TotalSeconds * qps);
                _last = now;
                if (_tokens >= 1)
                {
                    _tokens -= 1;
                    return;
                }
                var wait = TimeSpan.FromSeconds(Math.Min((1 - _tokens) / qps, 3600));
                await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
