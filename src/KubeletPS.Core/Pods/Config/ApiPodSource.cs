using System.Net;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using k8s;
using k8s.Models;
using KubeletPS.Core.Api;

namespace KubeletPS.Core.Pods.Config;

/// <summary>Timings of <see cref="ApiPodSource"/>; the defaults are kubelet's reflector's.</summary>
public sealed record ApiPodSourceOptions
{
    /// <summary>How long to wait after a change for more before yielding one snapshot for the burst.</summary>
    public TimeSpan CoalesceWindow { get; init; } = TimeSpan.FromMilliseconds(50);
    public TimeSpan MinRetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Watch requests ask the server to end the stream after this long (randomised up to twice, as the reflector).</summary>
    public TimeSpan WatchTimeout { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// Pods bound to this node from the API server (kubelet's config source "api", a reflector on
/// pods with fieldSelector spec.nodeName=NODE): one list, then a watch from the list's
/// resourceVersion with bookmarks. The set is kept by UID and a full snapshot is yielded after
/// each change (a burst gives one snapshot). A watch that ends or breaks resumes from the last
/// resourceVersion seen (bookmarks advance it) without a re-list; only 410 Gone/Expired re-lists,
/// and a re-list that finds the same pods yields nothing. While the server is unreachable the
/// source backs off and retries; the last snapshot stands (a failure never yields an empty set).
/// Mirror pods are included, as kubelet's source does: the pod manager tells them apart
/// (<see cref="Manager.MirrorPods.IsMirrorPod"/>) and must not run them.
/// </summary>
public sealed class ApiPodSource(IKubernetes client, ApiIdentity identity, string nodeName, IKubeletLog? log = null, ApiPodSourceOptions? options = null) : IPodSource
{
    private readonly IKubeletLog _log = log ?? NullKubeletLog.Instance;
    private readonly ApiPodSourceOptions _options = options ?? new ApiPodSourceOptions();
    private readonly object _lock = new();
    private Dictionary<string, V1Pod> _pods = [];
    private string? _resourceVersion;

    public string Name => "api";

    /// <summary>The resourceVersion the next watch resumes from.</summary>
    public string? LastResourceVersion
    {
        get { lock (_lock) return _resourceVersion; }
    }

    private string FieldSelector => $"spec.nodeName={nodeName}";

    public async IAsyncEnumerable<PodSourceSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var changes = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        var loop = Task.Run(() => ListAndWatchAsync(changes.Writer, stop.Token), CancellationToken.None);
        try
        {
            string? last = null;
            while (await changes.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                await Task.Delay(_options.CoalesceWindow, cancellationToken).ConfigureAwait(false);
                while (changes.Reader.TryRead(out _)) { }
                var snapshot = Snapshot();
                var key = Fingerprint(snapshot.Pods);
                if (key == last) continue;
                last = key;
                yield return snapshot;
            }
            await loop.ConfigureAwait(false);
        }
        finally
        {
            stop.Cancel();
            try { await loop.ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
    }

    private PodSourceSnapshot Snapshot()
    {
        lock (_lock)
        {
            var pods = _pods.Values.OrderBy(p => p.Metadata.NamespaceProperty, StringComparer.Ordinal)
                .ThenBy(p => p.Metadata.Name, StringComparer.Ordinal).ToList();
            return new PodSourceSnapshot(Name, pods, []);
        }
    }

    private static string Fingerprint(IEnumerable<V1Pod> pods) =>
        string.Join("\n", pods.Select(p => $"{p.Metadata.Uid}@{p.Metadata.ResourceVersion}").Order(StringComparer.Ordinal));

    private async Task ListAndWatchAsync(ChannelWriter<bool> changes, CancellationToken cancellationToken)
    {
        var backoff = new Backoff(_options.MinRetryDelay, _options.MaxRetryDelay);
        var needList = true;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (needList)
                {
                    await ListAsync(cancellationToken).ConfigureAwait(false);
                    needList = false;
                    changes.TryWrite(true);
                    backoff.Reset();
                }
                var outcome = await WatchOnceAsync(changes, cancellationToken).ConfigureAwait(false);
                switch (outcome)
                {
                    case WatchOutcome.Expired:
                        _log.Info($"The pod watch from resourceVersion {LastResourceVersion} expired (410); listing pods again.");
                        needList = true;
                        break;
                    case WatchOutcome.Failed:
                        await Task.Delay(backoff.Next(), cancellationToken).ConfigureAwait(false);
                        break;
                    case WatchOutcome.Progressed:
                        backoff.Reset();
                        break;
                    case WatchOutcome.Empty:
                        // Ended at once with nothing said: do not spin on a server that closes every watch.
                        await Task.Delay(_options.MinRetryDelay, cancellationToken).ConfigureAwait(false);
                        break;
                }
            }
            catch (KubeletApiException e) when (e.StatusCode == HttpStatusCode.Gone)
            {
                _log.Info($"The pod watch from resourceVersion {LastResourceVersion} expired (410); listing pods again.");
                needList = true;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Like a reflector, the source never gives up: whatever failed, back off and try again.
                var delay = backoff.Next();
                _log.Warning($"{e.Message} Keeping the last {Snapshot().Pods.Count} pod(s); retrying in {delay.TotalSeconds:0.#} s.");
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task ListAsync(CancellationToken cancellationToken)
    {
        var list = await ApiCall.RunAsync(identity, "list", "pods", null,
            () => client.CoreV1.ListPodForAllNamespacesAsync(fieldSelector: FieldSelector, cancellationToken: cancellationToken),
            cancellationToken).ConfigureAwait(false);
        var pods = new Dictionary<string, V1Pod>();
        foreach (var pod in list.Items ?? [])
        {
            if (pod.Metadata?.Uid is { } uid) pods[uid] = Annotate(pod);
        }
        lock (_lock)
        {
            _pods = pods;
            _resourceVersion = list.Metadata?.ResourceVersion;
        }
        _log.Debug($"Listed {pods.Count} pod(s) bound to {nodeName} at resourceVersion {list.Metadata?.ResourceVersion}.");
    }

    private enum WatchOutcome { Progressed, Empty, Expired, Failed }

    private async Task<WatchOutcome> WatchOnceAsync(ChannelWriter<bool> changes, CancellationToken cancellationToken)
    {
        var expired = false;
        Exception? failure = null;
        var events = 0;
        var timeout = (int)(_options.WatchTimeout.TotalSeconds * (1 + Random.Shared.NextDouble()));
        var from = LastResourceVersion;
        try
        {
            var stream = client.CoreV1.WatchListPodForAllNamespacesAsync(allowWatchBookmarks: true, fieldSelector: FieldSelector,
                resourceVersion: from, timeoutSeconds: Math.Max(1, timeout), onError: OnError, cancellationToken: cancellationToken);
            await foreach (var (type, pod) in stream.ConfigureAwait(false))
            {
                events++;
                if (Apply(type, pod)) changes.TryWrite(true);
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && ApiCall.Translate(identity, "watch", "pods", null, e) is { } translated)
        {
            if (translated.StatusCode == HttpStatusCode.Gone) return WatchOutcome.Expired;
            failure = translated;
        }
        if (expired) return WatchOutcome.Expired;
        if (failure is not null)
        {
            _log.Debug($"The pod watch from resourceVersion {from} broke after {events} event(s): {failure.Message}; resuming from {LastResourceVersion}.");
            return events > 0 ? WatchOutcome.Progressed : WatchOutcome.Failed;
        }
        return events > 0 ? WatchOutcome.Progressed : WatchOutcome.Empty;

        void OnError(Exception e)
        {
            if (e is KubernetesException { Status.Code: 410 }) expired = true;
            else failure ??= e;
        }
    }

    /// <summary>Applies one watch event; true when the set of pods changed.</summary>
    private bool Apply(WatchEventType type, V1Pod pod)
    {
        lock (_lock)
        {
            if (pod.Metadata?.ResourceVersion is { Length: > 0 } rv) _resourceVersion = rv;
            if (pod.Metadata?.Uid is not { } uid) return false;
            switch (type)
            {
                case WatchEventType.Added:
                case WatchEventType.Modified:
                    _pods[uid] = Annotate(pod);
                    return true;
                case WatchEventType.Deleted:
                    return _pods.Remove(uid);
                default:
                    return false;
            }
        }
    }

    private V1Pod Annotate(V1Pod pod)
    {
        pod.Metadata.Annotations ??= new Dictionary<string, string>();
        pod.Metadata.Annotations[PodAnnotations.ConfigSource] = Name;
        return pod;
    }
}
