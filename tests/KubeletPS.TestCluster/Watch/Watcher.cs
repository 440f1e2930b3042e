using System.Text.Json.Nodes;
using System.Threading.Channels;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Watch;

/// <summary>One event as a watch stream carries it: {"type": "...", "object": {...}}.</summary>
public sealed record WatchEvent(string Type, JsonObject Object)
{
    public const string Added = "ADDED";
    public const string Modified = "MODIFIED";
    public const string Deleted = "DELETED";
    public const string Bookmark = "BOOKMARK";
    public const string Error = "ERROR";

    public JsonObject ToJson() => new() { ["type"] = Type, ["object"] = Object.DeepClone() };
}

/// <summary>A change recorded in the watch cache, with the object before the change so selector transitions can be computed.</summary>
public sealed record StoredEvent(long ResourceVersion, ResourceType Resource, string Type, JsonObject Object, JsonObject? PrevObject);

/// <summary>
/// One open watch: its filter (resource, namespace, label and field selectors) and the queue of events for it.
/// Filtering follows the watch cache's cacheWatcher: an object that stops matching is sent as DELETED,
/// one that starts matching as ADDED.
/// </summary>
public sealed class Watcher
{
    private readonly Channel<WatchEvent> _events = Channel.CreateUnbounded<WatchEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _dropped = new();

    public Watcher(ResourceType resource, string? ns, LabelSelector labels, FieldSelector fields)
    {
        Resource = resource;
        Namespace = ns;
        Labels = labels;
        Fields = fields;
    }

    public ResourceType Resource { get; }
    public string? Namespace { get; }
    public LabelSelector Labels { get; }
    public FieldSelector Fields { get; }

    public ChannelReader<WatchEvent> Events => _events.Reader;

    /// <summary>Cancelled when the server ends this watch abruptly (fault injection or listener stop).</summary>
    public CancellationToken Dropped => _dropped.Token;

    public bool Matches(JsonObject obj)
    {
        if (Namespace is not null && obj["metadata"]?["namespace"]?.GetValue<string>() != Namespace) return false;
        return Labels.Matches(obj) && Fields.Matches(obj);
    }

    internal void Offer(StoredEvent e)
    {
        if (e.Resource != Resource) return;
        var current = Matches(e.Object);
        var previous = e.PrevObject is not null && Matches(e.PrevObject);
        WatchEvent? send = e.Type switch
        {
            WatchEvent.Added when current => new(WatchEvent.Added, e.Object),
            WatchEvent.Deleted when current => new(WatchEvent.Deleted, e.Object),
            WatchEvent.Modified when current && previous => new(WatchEvent.Modified, e.Object),
            WatchEvent.Modified when current => new(WatchEvent.Added, e.Object),
            WatchEvent.Modified when previous => new(WatchEvent.Deleted, WithResourceVersion(e.PrevObject!, e.ResourceVersion)),
            _ => null,
        };
        if (send is not null) _events.Writer.TryWrite(send);
    }

    internal void Send(WatchEvent e) => _events.Writer.TryWrite(e);

    internal void Drop()
    {
        _events.Writer.TryComplete();
        _dropped.Cancel();
    }

    internal void Close() => _events.Writer.TryComplete();

    private static JsonObject WithResourceVersion(JsonObject obj, long rv)
    {
        var copy = (JsonObject)obj.DeepClone();
        copy["metadata"]!["resourceVersion"] = rv.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return copy;
    }
}
