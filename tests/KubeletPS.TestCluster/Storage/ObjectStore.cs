using System.Globalization;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Watch;

namespace KubeletPS.TestCluster.Storage;

/// <summary>
/// The cluster state: every object as schemaless JSON (unknown fields kept), keyed like etcd's /registry/RESOURCE/NAMESPACE/NAME,
/// with one global, increasing resourceVersion and a watch cache fed by every change. Returned objects are copies.
/// Also the in-process admin API the tests use to seed and inspect state without HTTP or authorization;
/// creates go through the same RestStrategy (defaults, pod status reset) as API requests.
/// </summary>
public sealed class ObjectStore
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, JsonObject> _objects = new(StringComparer.Ordinal);
    private readonly WatchCache _cache;
    private readonly TimeProvider _time;
    private long _resourceVersion = 1;

    public ObjectStore(int watchCacheSize = 1000, TimeProvider? time = null)
    {
        _cache = new WatchCache(watchCacheSize);
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The cluster CA in PEM, published to every new namespace as the kube-root-ca.crt configmap; none when null.</summary>
    public string? RootCaPem { get; init; }

    public long ResourceVersion
    {
        get { lock (_lock) return _resourceVersion; }
    }

    internal TimeProvider Time => _time;

    public string Now() => FormatTime(_time.GetUtcNow());

    public static string FormatTime(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    // ---- in-process convenience API ("pods", "leases.coordination.k8s.io", "Node", short names) ----

    public JsonObject Create(string resource, JsonObject obj) => Create(ResourceRegistry.Resolve(resource), obj);

    public JsonObject? Get(string resource, string? ns, string name) => TryGet(ResourceRegistry.Resolve(resource), ns, name);

    public IReadOnlyList<JsonObject> List(string resource, string? ns = null, string? labelSelector = null, string? fieldSelector = null)
    {
        var type = ResourceRegistry.Resolve(resource);
        return List(type, ns, LabelSelector.Parse(labelSelector), FieldSelector.Parse(fieldSelector, type)).Items;
    }

    public JsonObject Update(string resource, string? ns, string name, Action<JsonObject> mutate) =>
        Update(ResourceRegistry.Resolve(resource), ns, name, o => { mutate(o); return o; });

    public void Delete(string resource, string? ns, string name) => Delete(ResourceRegistry.Resolve(resource), ns, name);

    // ---- typed API used by the HTTP handlers ----

    public JsonObject Create(ResourceType type, JsonObject input)
    {
        var obj = (JsonObject)input.DeepClone();
        obj["kind"] = type.Kind;
        obj["apiVersion"] = type.ApiVersion;
        var meta = obj["metadata"] as JsonObject ?? new JsonObject();
        obj["metadata"] = meta;
        var name = meta["name"]?.GetValue<string>();
        if (string.IsNullOrEmpty(name) && meta["generateName"]?.GetValue<string>() is { Length: > 0 } prefix)
            meta["name"] = name = prefix + RandomSuffix();
        if (string.IsNullOrEmpty(name))
            throw ApiException.Invalid(type, "", "metadata.name", "Required value: name or generateName is required");
        var ns = type.Namespaced ? meta["namespace"]?.GetValue<string>() : null;
        if (type.Namespaced && string.IsNullOrEmpty(ns)) meta["namespace"] = ns = "default";
        if (!type.Namespaced) meta.Remove("namespace");
        meta.Remove("deletionTimestamp");
        meta.Remove("deletionGracePeriodSeconds");
        meta.Remove("selfLink");
        RestStrategy.PrepareForCreate(type, obj);

        lock (_lock)
        {
            if (type.Namespaced && !_objects.ContainsKey(Key(ResourceRegistry.Namespaces, null, ns!)))
                throw ApiException.NotFound(ResourceRegistry.Namespaces, ns!);
            var key = Key(type, ns, name);
            if (_objects.ContainsKey(key)) throw ApiException.AlreadyExists(type, name);
            meta["uid"] = Guid.NewGuid().ToString();
            meta["creationTimestamp"] = Now();
            var rv = ++_resourceVersion;
            meta["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture);
            _objects[key] = obj;
            _cache.Append(new StoredEvent(rv, type, WatchEvent.Added, (JsonObject)obj.DeepClone(), null));
            if (type == ResourceRegistry.Namespaces)
            {
                // The service account controller gives every namespace a "default" service account.
                Create(ResourceRegistry.ServiceAccounts, new JsonObject { ["metadata"] = new JsonObject { ["name"] = "default", ["namespace"] = name } });
                // The root CA certificate publisher gives every namespace the cluster CA as the kube-root-ca.crt configmap.
                if (RootCaPem is { } ca)
                {
                    Create(ResourceRegistry.ConfigMaps, new JsonObject
                    {
                        ["metadata"] = new JsonObject { ["name"] = "kube-root-ca.crt", ["namespace"] = name },
                        ["data"] = new JsonObject { ["ca.crt"] = ca },
                    });
                }
            }
            return (JsonObject)obj.DeepClone();
        }
    }

    public JsonObject? TryGet(ResourceType type, string? ns, string name)
    {
        lock (_lock)
        {
            return _objects.TryGetValue(Key(type, ns, name), out var o) ? (JsonObject)o.DeepClone() : null;
        }
    }

    public JsonObject Get(ResourceType type, string? ns, string name) => TryGet(type, ns, name) ?? throw ApiException.NotFound(type, name);

    public (IReadOnlyList<JsonObject> Items, long ResourceVersion) List(ResourceType type, string? ns, LabelSelector labels, FieldSelector fields)
    {
        lock (_lock)
        {
            var prefix = ns is null ? type.QualifiedName + "/" : Key(type, ns, "");
            var items = _objects.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
                .Select(kv => kv.Value)
                .Where(o => labels.Matches(o) && fields.Matches(o))
                .Select(o => (JsonObject)o.DeepClone())
                .ToList();
            return (items, _resourceVersion);
        }
    }

    /// <summary>
    /// Read-modify-write of one object. <paramref name="mutate"/> gets a copy of the stored object; if what it returns carries
    /// a metadata.resourceVersion different from the stored one the write fails with 409 Conflict. Identity fields are kept,
    /// a no-op write keeps the resourceVersion (as the real storage does), and an object being deleted whose last finalizer
    /// is removed goes away.
    /// </summary>
    public JsonObject Update(ResourceType type, string? ns, string name, Func<JsonObject, JsonObject> mutate)
    {
        lock (_lock)
        {
            var key = Key(type, ns, name);
            if (!_objects.TryGetValue(key, out var current)) throw ApiException.NotFound(type, name);
            var updated = mutate((JsonObject)current.DeepClone());
            var meta = updated["metadata"] as JsonObject ?? new JsonObject();
            updated["metadata"] = meta;
            var oldMeta = (JsonObject)current["metadata"]!;
            var sentRv = meta["resourceVersion"]?.GetValue<string>();
            if (!string.IsNullOrEmpty(sentRv) && sentRv != oldMeta["resourceVersion"]!.GetValue<string>())
                throw ApiException.StaleResourceVersion(type, name);
            if (meta["name"]?.GetValue<string>() is { } bodyName && bodyName != name)
                throw ApiException.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
            if (meta["uid"]?.GetValue<string>() is { Length: > 0 } bodyUid && bodyUid != oldMeta["uid"]!.GetValue<string>())
                throw ApiException.Conflict(type, name, $"Precondition failed: UID in precondition: {bodyUid}, UID in object meta: {oldMeta["uid"]}");
            updated["kind"] = type.Kind;
            updated["apiVersion"] = type.ApiVersion;
            meta["name"] = name;
            if (ns is not null) meta["namespace"] = ns;
            foreach (var field in new[] { "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "generateName" })
            {
                if (oldMeta[field] is { } v) meta[field] = v.DeepClone();
                else meta.Remove(field);
            }
            if (JsonNode.DeepEquals(updated, current)) return (JsonObject)current.DeepClone();
            return Write(type, key, current, updated);
        }
    }

    /// <summary>Deletes now, or, when the object has finalizers, marks it with deletionTimestamp and leaves removal to whoever removes the last finalizer.</summary>
    public JsonObject Delete(ResourceType type, string? ns, string name, string? preconditionUid = null, string? preconditionResourceVersion = null)
    {
        lock (_lock)
        {
            var key = Key(type, ns, name);
            if (!_objects.TryGetValue(key, out var current)) throw ApiException.NotFound(type, name);
            CheckPreconditions(type, name, current, preconditionUid, preconditionResourceVersion);
            if (current["metadata"]?["finalizers"] is JsonArray { Count: > 0 })
            {
                var marked = (JsonObject)current.DeepClone();
                marked["metadata"]!["deletionTimestamp"] ??= Now();
                marked["metadata"]!["deletionGracePeriodSeconds"] = 0;
                return Write(type, key, current, marked);
            }
            return Remove(type, key, current);
        }
    }

    /// <summary>Sets deletionTimestamp (now + grace) and deletionGracePeriodSeconds: a graceful deletion the kubelet finishes.</summary>
    public JsonObject MarkForDeletion(ResourceType type, string? ns, string name, long gracePeriodSeconds, string? preconditionUid = null, string? preconditionResourceVersion = null)
    {
        lock (_lock)
        {
            var key = Key(type, ns, name);
            if (!_objects.TryGetValue(key, out var current)) throw ApiException.NotFound(type, name);
            CheckPreconditions(type, name, current, preconditionUid, preconditionResourceVersion);
            var existingGrace = current["metadata"]?["deletionGracePeriodSeconds"].AsInt64();
            // A second delete may only shorten the grace period.
            if (existingGrace is { } g && g <= gracePeriodSeconds) return (JsonObject)current.DeepClone();
            var marked = (JsonObject)current.DeepClone();
            marked["metadata"]!["deletionTimestamp"] = FormatTime(_time.GetUtcNow().AddSeconds(gracePeriodSeconds));
            marked["metadata"]!["deletionGracePeriodSeconds"] = gracePeriodSeconds;
            return Write(type, key, current, marked);
        }
    }

    public void Delete(ResourceType type, string? ns, string name) => Delete(type, ns, name, null, null);

    /// <summary>Opens a watch. resourceVersion "" or "0" starts with ADDED for every current object; a number replays from the cache window.</summary>
    public Watcher Watch(ResourceType type, string? ns, LabelSelector labels, FieldSelector fields, string? resourceVersion)
    {
        var watcher = new Watcher(type, ns, labels, fields);
        lock (_lock)
        {
            if (string.IsNullOrEmpty(resourceVersion) || resourceVersion == "0")
            {
                foreach (var o in List(type, ns, labels, fields).Items) watcher.Send(new WatchEvent(WatchEvent.Added, o));
            }
            else
            {
                if (!long.TryParse(resourceVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var rv))
                    throw ApiException.BadRequest($"invalid resource version: {resourceVersion}");
                foreach (var e in _cache.Since(rv)) watcher.Offer(e);
            }
            _cache.Add(watcher);
        }
        return watcher;
    }

    /// <summary>Queues a BOOKMARK carrying the current resourceVersion; under the lock so it never overtakes an event.</summary>
    public void SendBookmark(Watcher watcher)
    {
        lock (_lock)
        {
            watcher.Send(new WatchEvent(WatchEvent.Bookmark, new JsonObject
            {
                ["kind"] = watcher.Resource.Kind,
                ["apiVersion"] = watcher.Resource.ApiVersion,
                ["metadata"] = new JsonObject { ["resourceVersion"] = _resourceVersion.ToString(CultureInfo.InvariantCulture) },
            }));
        }
    }

    public void StopWatch(Watcher watcher)
    {
        lock (_lock) _cache.Remove(watcher);
        watcher.Close();
    }

    /// <summary>Ends every open watch abruptly.</summary>
    public void DropWatches()
    {
        lock (_lock) _cache.DropAll();
    }

    public int OpenWatchCount
    {
        get { lock (_lock) return _cache.WatcherCount; }
    }

    /// <summary>Empties the watch cache window: resuming from any earlier resourceVersion then fails with 410 Expired.</summary>
    public void CompactWatchCache()
    {
        lock (_lock) _cache.Compact(_resourceVersion);
    }

    private JsonObject Write(ResourceType type, string key, JsonObject current, JsonObject updated)
    {
        var rv = ++_resourceVersion;
        updated["metadata"]!["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture);
        var meta = updated["metadata"]!;
        var finalizing = meta["deletionTimestamp"] is not null
            && meta["finalizers"] is not JsonArray { Count: > 0 }
            && (meta["deletionGracePeriodSeconds"].AsInt64() ?? 0) == 0;
        if (finalizing)
        {
            _objects.Remove(key);
            _cache.Append(new StoredEvent(rv, type, WatchEvent.Deleted, (JsonObject)updated.DeepClone(), null));
            return updated;
        }
        _objects[key] = updated;
        _cache.Append(new StoredEvent(rv, type, WatchEvent.Modified, (JsonObject)updated.DeepClone(), (JsonObject)current.DeepClone()));
        return (JsonObject)updated.DeepClone();
    }

    private JsonObject Remove(ResourceType type, string key, JsonObject current)
    {
        var rv = ++_resourceVersion;
        _objects.Remove(key);
        // The DELETED event carries the object as last seen, with the resourceVersion of the deletion.
        var last = (JsonObject)current.DeepClone();
        last["metadata"]!["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture);
        _cache.Append(new StoredEvent(rv, type, WatchEvent.Deleted, (JsonObject)last.DeepClone(), null));
        return last;
    }

    private static void CheckPreconditions(ResourceType type, string name, JsonObject current, string? uid, string? resourceVersion)
    {
        var meta = current["metadata"]!;
        if (!string.IsNullOrEmpty(uid) && uid != meta["uid"]?.GetValue<string>())
            throw ApiException.Conflict(type, name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta["uid"]}");
        if (!string.IsNullOrEmpty(resourceVersion) && resourceVersion != meta["resourceVersion"]?.GetValue<string>())
            throw ApiException.Conflict(type, name, $"Precondition failed: ResourceVersion in precondition: {resourceVersion}, ResourceVersion in object meta: {meta["resourceVersion"]}");
    }

    private static string Key(ResourceType type, string? ns, string name) => $"{type.QualifiedName}/{ns}/{name}";

    private static string RandomSuffix()
    {
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        return string.Create(5, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++) span[i] = alphabet[Random.Shared.Next(alphabet.Length)];
        });
    }
}
