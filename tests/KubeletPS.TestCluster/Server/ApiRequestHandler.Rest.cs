using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Auth;
using KubeletPS.TestCluster.Server.Controllers;
using KubeletPS.TestCluster.Storage;
using KubeletPS.TestCluster.Watch;

namespace KubeletPS.TestCluster.Server;

/// <summary>The REST handlers over the ObjectStore: get, list, watch, create, update, patch and delete, with the controllers' after-write hooks.</summary>
internal sealed partial class ApiRequestHandler
{
    private async Task GetAsync(HttpContext ctx, ResourceRequest r)
    {
        if (r.Subresource is "token") throw ApiException.MethodNotSupported(r.Type, "get");
        var obj = ClusterInfoPublisher.AsServed(options, store, r.Type, store.Get(r.Type, r.Namespace, r.Name));
        if (TableConvertor.Wanted(ctx.Request.Headers.Accept))
        {
            await WriteJsonAsync(ctx, 200, TableConvertor.Convert(r.Type, [obj], obj["metadata"]!["resourceVersion"]!.GetValue<string>(),
                ctx.Request.Query["includeObject"], options.TimeProvider.GetUtcNow()));
            return;
        }
        await WriteJsonAsync(ctx, 200, obj);
    }

    private async Task ListAsync(HttpContext ctx, ResourceRequest r)
    {
        var q = ctx.Request.Query;
        var (items, rv) = store.List(r.Type, r.Namespace, LabelSelector.Parse(q["labelSelector"]), FieldSelector.Parse(q["fieldSelector"], r.Type));
        var listMeta = new JsonObject { ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture) };
        IEnumerable<JsonObject> page = items;
        if (q["continue"].ToString() is { Length: > 0 } token)
        {
            string after;
            try { after = Encoding.UTF8.GetString(Convert.FromBase64String(token)); }
            catch (FormatException) { throw ApiException.BadRequest("continue key is not valid: illegal base64 data"); }
            page = page.SkipWhile(o => string.CompareOrdinal(SortKey(o), after) <= 0);
        }
        if (int.TryParse(q["limit"], out var limit) && limit > 0)
        {
            var all = page.ToList();
            page = all.Take(limit).ToList();
            if (all.Count > limit)
            {
                listMeta["continue"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(SortKey(all[limit - 1])));
                listMeta["remainingItemCount"] = all.Count - limit;
            }
        }
        if (TableConvertor.Wanted(ctx.Request.Headers.Accept))
        {
            var table = TableConvertor.Convert(r.Type, page, rv.ToString(CultureInfo.InvariantCulture), q["includeObject"], options.TimeProvider.GetUtcNow());
            table["metadata"] = listMeta;
            await WriteJsonAsync(ctx, 200, table);
            return;
        }
        var array = new JsonArray();
        foreach (var item in page)
        {
            // Items of a list carry no kind/apiVersion of their own, as from the real server.
            item.Remove("kind");
            item.Remove("apiVersion");
            array.Add(item);
        }
        await WriteJsonAsync(ctx, 200, new JsonObject
        {
            ["kind"] = r.Type.ListKind,
            ["apiVersion"] = r.Type.ApiVersion,
            ["metadata"] = listMeta,
            ["items"] = array,
        });
    }

    private static string SortKey(JsonObject o) => $"{o["metadata"]?["namespace"]}/{o["metadata"]?["name"]}";

    private async Task WatchAsync(HttpContext ctx, ResourceRequest r)
    {
        var q = ctx.Request.Query;
        var fieldSelector = q["fieldSelector"].ToString();
        if (r.Name.Length > 0) fieldSelector = string.IsNullOrEmpty(fieldSelector) ? $"metadata.name={r.Name}" : $"{fieldSelector},metadata.name={r.Name}";
        var labels = LabelSelector.Parse(q["labelSelector"]);
        var fields = FieldSelector.Parse(fieldSelector, r.Type);
        var sendInitialEvents = q["sendInitialEvents"].ToString() == "true";
        var bookmarks = q["allowWatchBookmarks"].ToString() is "true" or "1";
        var timeout = int.TryParse(q["timeoutSeconds"], out var t) && t > 0
            ? TimeSpan.FromSeconds(t)
            : TimeSpan.FromSeconds(1800 * (1 + Random.Shared.NextDouble()));

        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        Watcher watcher;
        try
        {
            watcher = store.Watch(r.Type, r.Namespace, labels, fields, sendInitialEvents ? "" : q["resourceVersion"].ToString());
        }
        catch (ApiException e) when (e.Code == 410)
        {
            // The real server answers 200 and reports an expired resourceVersion as an ERROR event.
            await WriteLineAsync(ctx, new WatchEvent(WatchEvent.Error, e.ToStatus()).ToJson());
            return;
        }
        if (sendInitialEvents)
        {
            // The watch-list protocol: initial ADDED events end with a bookmark annotated k8s.io/initial-events-end.
            store.SendBookmark(watcher);
        }
        using var timeoutCts = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, timeoutCts.Token, watcher.Dropped);
        using var bookmarkTimer = bookmarks ? new Timer(_ => store.SendBookmark(watcher), null, options.BookmarkInterval, options.BookmarkInterval) : null;
        var first = sendInitialEvents;
        try
        {
            await ctx.Response.StartAsync(linked.Token);
            await ctx.Response.Body.FlushAsync(linked.Token);
            await foreach (var e in watcher.Events.ReadAllAsync(linked.Token))
            {
                var json = e.ToJson();
                if (first && e.Type == WatchEvent.Bookmark)
                {
                    first = false;
                    json["object"]!["metadata"]!["annotations"] = new JsonObject { ["k8s.io/initial-events-end"] = "true" };
                }
                else if (e.Type == WatchEvent.Bookmark && !bookmarks) continue;
                await WriteLineAsync(ctx, json, linked.Token);
            }
        }
        catch (OperationCanceledException) when (timeoutCts.IsCancellationRequested && !watcher.Dropped.IsCancellationRequested)
        {
            // timeoutSeconds elapsed: end the stream cleanly.
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
        }
        catch (OperationCanceledException) when (watcher.Dropped.IsCancellationRequested)
        {
        }
        finally
        {
            store.StopWatch(watcher);
        }
        if (watcher.Dropped.IsCancellationRequested)
        {
            logger.LogDebug("Dropping watch on {Resource}", r.Type.QualifiedName);
            ctx.Abort();
        }
    }

    private static async Task WriteLineAsync(HttpContext ctx, JsonObject json, CancellationToken ct = default)
    {
        var bytes = Encoding.UTF8.GetBytes(json.ToJsonString(Json) + "\n");
        await ctx.Response.Body.WriteAsync(bytes, ct);
        await ctx.Response.Body.FlushAsync(ct);
    }

    private async Task CreateAsync(HttpContext ctx, ResourceRequest r, UserInfo user)
    {
        var body = await ReadObjectAsync(ctx);
        if (r.Subresource == "token")
        {
            await WriteJsonAsync(ctx, 201, CreateToken(r, body));
            return;
        }
        if (r.Subresource.Length > 0) throw ApiException.MethodNotSupported(r.Type, "create of " + r.Subresource);
        var meta = body["metadata"] as JsonObject ?? new JsonObject();
        body["metadata"] = meta;
        if (r.Namespace is not null)
        {
            if (meta["namespace"]?.GetValue<string>() is { Length: > 0 } bodyNs && bodyNs != r.Namespace)
                throw ApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
            meta["namespace"] = r.Namespace;
        }
        if (r.Type == ResourceRegistry.CertificateSigningRequests)
        {
            var spec = body["spec"] as JsonObject ?? new JsonObject();
            body["spec"] = spec;
            spec["username"] = user.Name;
            spec["groups"] = new JsonArray(user.Groups.Select(g => (JsonNode)g).ToArray());
            if (spec["expirationSeconds"].AsInt64() is < 600 and var seconds)
                throw ApiException.Invalid(r.Type, meta["name"]?.GetValue<string>() ?? "", "spec.expirationSeconds",
                    $"{seconds}: may not specify a duration less than 600 seconds (10 minutes)");
        }
        NodeRestriction.Admit(user, "create", r.Type, "", meta["name"]?.GetValue<string>() ?? "", null, body);
        var created = store.Create(r.Type, body);
        // The response is the object as created; the controllers act on it afterwards, as kube-controller-manager would.
        if (r.Type == ResourceRegistry.CertificateSigningRequests) certificates.AfterCreate(created["metadata"]!["name"]!.GetValue<string>());
        if (r.Type == ResourceRegistry.Nodes) nodeLifecycle.AfterWrite(created);
        await WriteJsonAsync(ctx, 201, created);
    }

    private async Task UpdateAsync(HttpContext ctx, ResourceRequest r, UserInfo user)
    {
        var body = r.Type == ResourceRegistry.CertificateSigningRequests && r.Subresource is "approval" or "status"
            && (ctx.Request.ContentType ?? "").StartsWith(ProtobufCertificateSigningRequest.ContentType, StringComparison.Ordinal)
            ? await ReadProtobufCsrAsync(ctx)
            : await ReadObjectAsync(ctx);
        var existing = store.Get(r.Type, r.Namespace, r.Name);
        NodeRestriction.Admit(user, "update", r.Type, r.Subresource, r.Name, existing, body);
        var updated = store.Update(r.Type, r.Namespace, r.Name, current => RestStrategy.PrepareForUpdate(r.Type, r.Subresource, current, body));
        updated = AfterUpdate(r, updated);
        await WriteJsonAsync(ctx, 200, updated);
    }

    private async Task PatchAsync(HttpContext ctx, ResourceRequest r, UserInfo user)
    {
        var contentType = (ctx.Request.ContentType ?? "").Split(';')[0].Trim();
        Func<JsonObject, JsonNode, JsonNode?> apply = contentType switch
        {
            "application/merge-patch+json" => JsonMergePatch.Apply,
            "application/strategic-merge-patch+json" => StrategicMergePatch.Apply,
            "application/json-patch+json" => (doc, patch) => JsonPatch.Apply(doc, patch as JsonArray
                ?? throw ApiException.BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")),
            _ => throw ApiException.UnsupportedMediaType(contentType),
        };
        var patch = JsonNode.Parse(await new StreamReader(ctx.Request.Body).ReadToEndAsync(ctx.RequestAborted))
            ?? throw ApiException.BadRequest("empty patch");
        var existing = store.Get(r.Type, r.Namespace, r.Name);
        NodeRestriction.Admit(user, "patch", r.Type, r.Subresource, r.Name, existing, null);
        var updated = store.Update(r.Type, r.Namespace, r.Name, current =>
        {
            JsonNode? patched;
            try
            {
                patched = apply(current, patch);
            }
            catch (InvalidOperationException e)
            {
                throw new ApiException(422, "Invalid", e.Message);
            }
            if (patched is not JsonObject patchedObject) throw ApiException.BadRequest("patch did not produce an object");
            return RestStrategy.PrepareForUpdate(r.Type, r.Subresource, current, patchedObject);
        });
        updated = AfterUpdate(r, updated);
        await WriteJsonAsync(ctx, 200, updated);
    }

    private async Task DeleteAsync(HttpContext ctx, ResourceRequest r, UserInfo user)
    {
        if (r.Subresource.Length > 0) throw ApiException.MethodNotSupported(r.Type, "delete of " + r.Subresource);
        var options = await ReadOptionalObjectAsync(ctx) ?? new JsonObject();
        var grace = options["gracePeriodSeconds"].AsInt64();
        if (long.TryParse(ctx.Request.Query["gracePeriodSeconds"], out var g)) grace = g;
        var uid = options["preconditions"]?["uid"]?.GetValue<string>();
        var rv = options["preconditions"]?["resourceVersion"]?.GetValue<string>();
        var existing = store.Get(r.Type, r.Namespace, r.Name);
        NodeRestriction.Admit(user, "delete", r.Type, "", r.Name, existing, null);
        JsonObject result;
        if (r.Type == ResourceRegistry.Pods)
        {
            // Pod graceful deletion: a pod bound to a node and not finished gets deletionTimestamp and is removed by its kubelet.
            grace ??= existing["spec"]?["terminationGracePeriodSeconds"].AsInt64() ?? 30;
            var bound = existing["spec"]?["nodeName"]?.GetValue<string>() is { Length: > 0 };
            var finished = existing["status"]?["phase"]?.GetValue<string>() is "Succeeded" or "Failed";
            result = grace > 0 && bound && !finished
                ? store.MarkForDeletion(r.Type, r.Namespace, r.Name, grace.Value, uid, rv)
                : store.Delete(r.Type, r.Namespace, r.Name, uid, rv);
        }
        else
        {
            result = store.Delete(r.Type, r.Namespace, r.Name, uid, rv);
        }
        if (r.Type.ReturnsDeletedObject || result["metadata"]?["deletionTimestamp"] is not null)
        {
            await WriteJsonAsync(ctx, 200, result);
            return;
        }
        var details = new JsonObject { ["name"] = r.Name };
        if (r.Type.Group.Length > 0) details["group"] = r.Type.Group;
        details["kind"] = r.Type.Plural;
        details["uid"] = result["metadata"]?["uid"]?.DeepClone();
        await WriteJsonAsync(ctx, 200, new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Success",
            ["details"] = details,
        });
    }

    private JsonObject AfterUpdate(ResourceRequest r, JsonObject updated) =>
        r.Type == ResourceRegistry.CertificateSigningRequests ? certificates.AfterUpdate(r.Name)
        : r.Type == ResourceRegistry.Nodes ? nodeLifecycle.AfterWrite(updated) : updated;
}
