using k8s.Models;

namespace KubeletPS.Core.Pods.Events;

/// <summary>
/// What client-go's EventCorrelator does before an event is sent, besides counting identical events
/// (which <see cref="EventRecorder"/> does with the API server's Event): similar events — same source,
/// object, type and reason — with ten or more different messages within the aggregation window
/// become one Event "(combined from similar events): MESSAGE" (EventAggregator); and each source and
/// object may send a burst of events, then one per refill interval (EventSourceObjectSpamFilter), so a
/// probe failing every second or a pod retrying at every sync cannot flood the API server.
/// </summary>
public sealed class EventCorrelator(EventRecorderOptions options, TimeProvider time)
{
    public const string CombinedPrefix = "(combined from similar events): ";

    private readonly object _lock = new();
    private readonly Dictionary<string, Similar> _similar = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Bucket> _spam = new(StringComparer.Ordinal);

    private sealed class Similar
    {
        public readonly HashSet<string> Messages = new(StringComparer.Ordinal);
        public DateTimeOffset Last;
    }

    private sealed class Bucket
    {
        public double Tokens;
        public DateTimeOffset Last;
    }

    /// <summary>The event to send (the same, or the combined one) and the key identical events share; null when the spam filter drops it.</summary>
    public (Corev1Event Event, string Key)? Correlate(Corev1Event e)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            var key = EventKey(e);
            var similarKey = SimilarKey(e);
            if (!_similar.TryGetValue(similarKey, out var similar) || now - similar.Last > options.AggregationWindow)
                _similar[similarKey] = similar = new Similar();
            similar.Messages.Add(e.Message);
            similar.Last = now;
            Trim(_similar, s => s.Last);
            if (similar.Messages.Count >= options.SimilarEventsBeforeCombining)
            {
                similar.Messages.Remove(similar.Messages.First());
                e.Message = CombinedPrefix + e.Message;
                key = similarKey;
            }
            return Allow(SpamKey(e), now) ? (e, key) : null;
        }
    }

    private bool Allow(string key, DateTimeOffset now)
    {
        if (!_spam.TryGetValue(key, out var bucket)) _spam[key] = bucket = new Bucket { Tokens = options.SpamBurst, Last = now };
        var refill = options.SpamRefillInterval > TimeSpan.Zero ? (now - bucket.Last) / options.SpamRefillInterval : double.PositiveInfinity;
        bucket.Tokens = Math.Min(options.SpamBurst, bucket.Tokens + refill);
        bucket.Last = now;
        Trim(_spam, b => b.Last);
        if (bucket.Tokens < 1) return false;
        bucket.Tokens -= 1;
        return true;
    }

    private void Trim<T>(Dictionary<string, T> cache, Func<T, DateTimeOffset> last)
    {
        if (cache.Count <= options.CacheSize) return;
        cache.Remove(cache.MinBy(kv => last(kv.Value)).Key);
    }

    private static string Join(params string?[] parts) => string.Join("\u0000", parts);

    /// <summary>Identical events (client-go's getEventKey).</summary>
    public static string EventKey(Corev1Event e)
    {
        var o = e.InvolvedObject;
        return Join(e.Source.Component, e.Source.Host, o.Kind, o.NamespaceProperty, o.Name, o.FieldPath, o.Uid, o.ApiVersion, e.Type, e.Reason, e.Message);
    }

    /// <summary>Similar events (EventAggregatorByReasonFunc): no field path, no message.</summary>
    private static string SimilarKey(Corev1Event e)
    {
        var o = e.InvolvedObject;
        return Join("similar", e.Source.Component, e.Source.Host, o.Kind, o.NamespaceProperty, o.Name, o.Uid, o.ApiVersion, e.Type, e.Reason, e.ReportingComponent, e.ReportingInstance);
    }

    /// <summary>One source about one object (getSpamKey).</summary>
    private static string SpamKey(Corev1Event e)
    {
        var o = e.InvolvedObject;
        return Join(e.Source.Component, e.Source.Host, o.Kind, o.NamespaceProperty, o.Name, o.Uid, o.ApiVersion);
    }
}
