using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Auth;
using KubeletPS.TestCluster.Metrics;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Server.Controllers;
using KubeletPS.TestCluster.Server.Proxy;
using KubeletPS.TestCluster.Storage;
using KubeletPS.TestCluster.Watch;

namespace KubeletPS.TestCluster.Server;

/// <summary>
/// The request pipeline of kube-apiserver in one place: fault injection, authentication, request info, authorization,
/// then the REST handlers (get, list, watch, create, update, patch, delete) over the ObjectStore, with admission (NodeRestriction).
/// </summary>
internal sealed class ApiRequestHandler(
    ObjectStore store,
    ClusterPki pki,
    ClientCertificateAuthenticator authenticator,
    BootstrapTokenAuthenticator tokenAuthenticator,
    IAuthorizer authorizer,
    FaultInjector faults,
    RequestLog requestLog,
    TestApiServerOptions options,
    Func<string> serverAddress,
    ILogger logger)
{
    private readonly CertificateSigningController certificates = new(store, pki, authorizer, options, logger);
    private readonly NodeLifecycleController nodeLifecycle = new(store);
    private readonly ReviewHandler reviews = new(tokenAuthenticator, new ServiceAccountTokenAuthenticator(store, pki.CA.Certificate, options.TimeProvider), authorizer);

    /// <summary>pods/log and nodes/proxy to the kubelets.</summary>
    internal KubeletProxy Kubelets { get; } = new(store, pki, options);
    internal PodStreamingProxy Streaming { get; } = new(store, options.PortForwardWebsockets);

    /// <summary>metrics.k8s.io, as metrics-server serves it from the kubelets' /metrics/resource.</summary>
    internal MetricsApi Metrics => LazyInitializer.EnsureInitialized(ref metrics, () => new(store, Kubelets.ScrapeResourceMetricsAsync, options.MetricsResolution, options.TimeProvider));
    private MetricsApi? metrics;

    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private sealed record ResourceRequest(ResourceType Type, string? Namespace, string Name, string Subresource);

    public async Task HandleAsync(HttpContext ctx)
    {
        if (faults.IsRefusingConnections)
        {
            ctx.Abort();
            return;
        }
        var request = ctx.Request;
        var path = request.Path.Value is { Length: > 0 } p ? p : "/";
        var user = UserInfo.Anonymous;
        RequestAttributes attributes = new(user, request.Method.ToLowerInvariant(), path);
        try
        {
            user = Authenticate(ctx, out var failure) ?? throw Unauthorized(failure);
            attributes = Describe(request, user, path);
            if (faults.TakeFailure(request.Method, path + request.QueryString) is { } injected) throw InjectedError(injected, attributes);
            var decision = authorizer.Authorize(attributes);
            if (decision.Decision != Decision.Allow)
                throw Forbidden.ForRequest(attributes, decision.Reason);
            if (ReviewHandler.IsReview(attributes)) await WriteJsonAsync(ctx, 201, reviews.Review(attributes, await ReadObjectAsync(ctx)));
            else if (KubeletProxy.Handles(attributes)) await Kubelets.HandleAsync(ctx, attributes);
            else if (attributes.IsResourceRequest && MetricsApi.Handles(attributes.ApiGroup))
                await WriteJsonAsync(ctx, 200, Metrics.Handle(attributes.Verb, attributes.Resource, attributes.Namespace.Length > 0 ? attributes.Namespace : null,
                    attributes.Name, request.Query["labelSelector"], request.Query["fieldSelector"]));
            else if (attributes.IsResourceRequest) await HandleResourceAsync(ctx, attributes);
            else await HandleNonResourceAsync(ctx, attributes);
        }
        catch (ApiException e)
        {
            await WriteErrorAsync(ctx, e);
        }
        catch (JsonException e)
        {
            await WriteErrorAsync(ctx, ApiException.BadRequest($"the object provided is unrecognized: {e.Message}"));
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException or NullReferenceException)
        {
            logger.LogWarning(e, "{Method} {Path} failed", ctx.Request.Method, path);
            await WriteErrorAsync(ctx, ApiException.InternalError(e.Message));
        }
        finally
        {
            requestLog.Add(new ApiRequest(options.TimeProvider.GetUtcNow(), user.Name, attributes.Verb,
                attributes.IsResourceRequest ? attributes.ResourceWithSubresource : attributes.Path,
                attributes.Namespace, attributes.Name, path, ctx.Response.StatusCode) { ClientCertificateSerial = ctx.Connection.ClientCertificate?.SerialNumber });
        }
    }

    /// <summary>
    /// The union authenticator: a valid client certificate, else a bearer token (only bootstrap tokens are known here),
    /// else anonymous when nothing was presented. A presented credential that fails is 401, never anonymous.
    /// </summary>
    private UserInfo? Authenticate(HttpContext ctx, out string? failure)
    {
        var certificate = ctx.Connection.ClientCertificate;
        var certificateUser = authenticator.Authenticate(certificate, out failure);
        if (certificate is not null && certificateUser is not null) return certificateUser;
        var header = ctx.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var user = tokenAuthenticator.Authenticate(header[7..].Trim(), out var tokenFailure);
            failure = failure is null ? tokenFailure : $"{failure}; {tokenFailure}";
            return user;
        }
        return certificateUser;
    }

    private ApiException Unauthorized(string? failure)
    {
        logger.LogInformation("Rejected credentials: {Reason}", failure);
        return new(401, "Unauthorized", "Unauthorized");
    }

    private static ApiException InjectedError(FaultInjector.InjectedFailure f, RequestAttributes a)
    {
        var type = a.IsResourceRequest ? ResourceRegistry.Find(a.ApiGroup, a.ApiVersion, a.Resource) : null;
        if (f.StatusCode == 409 && type is not null)
            return ApiException.StaleResourceVersion(type, a.Name);
        var (reason, message) = f.StatusCode switch
        {
            400 => ("BadRequest", "injected bad request"),
            401 => ("Unauthorized", "Unauthorized"),
            403 => ("Forbidden", "injected forbidden"),
            404 => ("NotFound", "the server could not find the requested resource"),
            409 => ("Conflict", "injected conflict"),
            410 => ("Expired", "injected expiry"),
            429 => ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
            500 => ("InternalError", "Internal error occurred: injected failure"),
            503 => ("ServiceUnavailable", "the server is currently unable to handle the request"),
            504 => ("Timeout", "the server was unable to return a response in the time allotted"),
            _ => ("", "injected failure"),
        };
        return new ApiException(f.StatusCode, reason, message) { RetryAfterSeconds = f.RetryAfterSeconds };
    }

    /// <summary>The apiserver's RequestInfoFactory: resource requests under /api/v1 and /apis/GROUP/VERSION, the rest non-resource.</summary>
    private static RequestAttributes Describe(HttpRequest request, UserInfo user, string path)
    {
        var method = request.Method.ToUpperInvariant();
        var nonResource = new RequestAttributes(user, method == "HEAD" ? "get" : method.ToLowerInvariant(), path);
        var segs = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        string group, version;
        string[] rest;
        if (segs.Length >= 3 && segs[0] == "api") (group, version, rest) = ("", segs[1], segs[2..]);
        else if (segs.Length >= 4 && segs[0] == "apis") (group, version, rest) = (segs[1], segs[2], segs[3..]);
        else return nonResource;

        var watch = false;
        if (rest[0] == "watch")
        {
            watch = true;
            rest = rest[1..];
        }
        var ns = "";
        if (rest.Length >= 2 && rest[0] == "namespaces")
        {
            ns = rest[1];
            if (rest.Length > 2 && rest[2] is not ("status" or "finalize")) rest = rest[2..];
        }
        if (rest.Length == 0) return nonResource;
        var name = rest.Length > 1 ? rest[1] : "";
        var sub = rest.Length > 2 ? rest[2] : "";
        if (rest.Length > 3) sub = rest[2] == "proxy" ? "proxy" : string.Join('/', rest[2..]); // nodes/NAME/proxy/PATH: the path is not a subresource
        var watchParam = request.Query["watch"].ToString() is "true" or "1";
        var verb = method switch
        {
            "GET" or "HEAD" when watch || watchParam => "watch",
            "GET" or "HEAD" => name.Length == 0 ? "list" : "get",
            "POST" => "create",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => name.Length == 0 ? "deletecollection" : "delete",
            _ => method.ToLowerInvariant(),
        };
        // AuthorizePodWebsocketUpgradeCreatePermission (on in 1.32): a WebSocket GET to pods/exec, attach or portforward needs create.
        if (verb == "get" && rest[0] == "pods" && PodStreamingProxy.Subresources.ContainsKey(sub) && request.Headers.Upgrade.Count > 0) verb = "create";
        return new RequestAttributes(user, verb, path)
        {
            IsResourceRequest = true,
            ApiGroup = group,
            ApiVersion = version,
            Resource = rest[0],
            Name = name,
            Subresource = sub,
            Namespace = ns,
            SelectorName = verb is "list" or "watch" ? RequestAttributes.NameRequiredBy(request.Query["fieldSelector"]) : "",
        };
    }

    private async Task HandleNonResourceAsync(HttpContext ctx, RequestAttributes a)
    {
        var path = a.Path.TrimEnd('/');
        if (a.Verb != "get") throw NotFoundPath();
        switch (path)
        {
            case "/healthz" or "/livez" or "/readyz":
                ctx.Response.ContentType = "text/plain; charset=utf-8";
                await ctx.Response.WriteAsync("ok");
                return;
            case "/version":
                await WriteJsonAsync(ctx, 200, Discovery.Version());
                return;
            case "/api":
                await WriteJsonAsync(ctx, 200, Discovery.ApiVersions(serverAddress()));
                return;
            case "/apis":
                await WriteJsonAsync(ctx, 200, Discovery.ApiGroupList());
                return;
        }
        var segs = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var doc = segs switch
        {
            ["api", var v] => Discovery.ApiResourceList("", v),
            ["apis", var g] => Discovery.ApiGroup(g),
            ["apis", var g, var v] => Discovery.ApiResourceList(g, v),
            ["openapi", "v3"] => OpenApi.Root(),
            ["openapi", "v3", .. var gv] => OpenApi.GroupVersion(string.Join('/', gv)),
            _ => null,
        };
        await WriteJsonAsync(ctx, 200, doc ?? throw NotFoundPath());
    }

    private static ApiException NotFoundPath() =>
        new(404, "NotFound", "the server could not find the requested resource", new JsonObject());

    private async Task HandleResourceAsync(HttpContext ctx, RequestAttributes a)
    {
        var type = ResourceRegistry.Find(a.ApiGroup, a.ApiVersion, a.Resource) ?? throw NotFoundPath();
        if (PodStreamingProxy.Serves(type, a.Subresource) && a.Namespace.Length > 0 && a.Verb is "create" or "get")
        {
            await Streaming.HandleAsync(ctx, Kubelets, a.Namespace, a.Name, a.Subresource);
            return;
        }
        if (a.Subresource.Length > 0 && !type.Subresources.ContainsKey(a.Subresource)) throw NotFoundPath();
        if (type.Namespaced != (a.Namespace.Length > 0) && !(type.Namespaced && a.Verb is "list" or "watch"))
        {
            // Namespaced resources need a namespace except for all-namespace list/watch; cluster-scoped ones must not have one.
            if (!(type == ResourceRegistry.Namespaces && a.Namespace == a.Name)) throw NotFoundPath();
        }
        var ns = type.Namespaced && a.Namespace.Length > 0 ? a.Namespace : null;
        var r = new ResourceRequest(type, ns, a.Name, a.Subresource);
        switch (a.Verb)
        {
            case "get": await GetAsync(ctx, r); break;
            case "list": await ListAsync(ctx, r); break;
            case "watch": await WatchAsync(ctx, r); break;
            case "create": await CreateAsync(ctx, r, a.User); break;
            case "update": await UpdateAsync(ctx, r, a.User); break;
            case "patch": await PatchAsync(ctx, r, a.User); break;
            case "delete": await DeleteAsync(ctx, r, a.User); break;
            default: throw ApiException.MethodNotSupported(type, a.Verb);
        }
    }

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

    /// <summary>
    /// TokenRequest: a signed JWT for the service account (not accepted back as a bearer token by this server). As the
    /// real registry (pkg/registry/core/serviceaccount/storage/token.go): 404 when the service account does not exist; a
    /// token bound to a Pod needs that pod to exist (404) with the UID the reference names (409), and carries its name
    /// and UID in its claims.
    /// </summary>
    private JsonObject CreateToken(ResourceRequest r, JsonObject body)
    {
        var sa = store.Get(ResourceRegistry.ServiceAccounts, r.Namespace, r.Name);
        var spec = body["spec"] as JsonObject ?? new JsonObject();
        JsonObject? boundPod = null;
        if (spec["boundObjectRef"] is JsonObject reference)
        {
            var kind = reference["kind"]?.GetValue<string>();
            var refName = reference["name"]?.GetValue<string>() ?? "";
            if (kind != "Pod" || reference["apiVersion"]?.GetValue<string>() is not (null or "v1"))
                throw ApiException.BadRequest($"cannot bind token for serviceaccount \"{r.Name}\" to object of type {reference["apiVersion"]}, Kind={kind} (only v1 Pod is supported by this server)");
            boundPod = store.Get(ResourceRegistry.Pods, r.Namespace, refName);
            var uid = boundPod["metadata"]?["uid"]?.GetValue<string>();
            if (reference["uid"]?.GetValue<string>() is { Length: > 0 } wanted && wanted != uid)
                throw ApiException.Conflict(ResourceRegistry.Pods, refName,
                    $"the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated");
        }
        var seconds = spec["expirationSeconds"].AsInt64() ?? 3600;
        if (seconds < 600)
            throw ApiException.Invalid(r.Type, r.Name, "spec.expirationSeconds", $"{seconds}: may not specify a duration less than 10 minutes");
        var now = options.TimeProvider.GetUtcNow();
        var expires = now.AddSeconds(seconds);
        var audiences = spec["audiences"] as JsonArray is { Count: > 0 } a ? (JsonArray)a.DeepClone() : new JsonArray("https://kubernetes.default.svc.cluster.local");
        var claims = new JsonObject
        {
            ["aud"] = audiences.DeepClone(),
            ["exp"] = expires.ToUnixTimeSeconds(),
            ["iat"] = now.ToUnixTimeSeconds(),
            ["iss"] = "https://kubernetes.default.svc.cluster.local",
            ["sub"] = $"system:serviceaccount:{r.Namespace}:{r.Name}",
            ["kubernetes.io"] = new JsonObject
            {
                ["namespace"] = r.Namespace,
                ["serviceaccount"] = new JsonObject { ["name"] = r.Name, ["uid"] = sa["metadata"]?["uid"]?.DeepClone() },
            },
        };
        if (boundPod is not null)
        {
            ((JsonObject)claims["kubernetes.io"]!)["pod"] = new JsonObject
            {
                ["name"] = boundPod["metadata"]?["name"]?.DeepClone(),
                ["uid"] = boundPod["metadata"]?["uid"]?.DeepClone(),
            };
        }
        spec["audiences"] = audiences;
        spec["expirationSeconds"] = seconds;
        return new JsonObject
        {
            ["kind"] = "TokenRequest",
            ["apiVersion"] = "authentication.k8s.io/v1",
            ["metadata"] = new JsonObject { ["name"] = r.Name, ["namespace"] = r.Namespace, ["creationTimestamp"] = null },
            ["spec"] = spec.DeepClone(),
            ["status"] = new JsonObject { ["token"] = SignJwt(claims), ["expirationTimestamp"] = ObjectStore.FormatTime(expires) },
        };
    }

    private string SignJwt(JsonObject claims)
    {
        static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var alg = pki.CA.Key is ECDsa ? "ES256" : "RS256";
        var header = B64(Encoding.UTF8.GetBytes(new JsonObject { ["alg"] = alg, ["kid"] = "kubeletps-test" }.ToJsonString()));
        var payload = B64(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var data = Encoding.ASCII.GetBytes($"{header}.{payload}");
        var signature = pki.CA.Key switch
        {
            ECDsa ec => ec.SignData(data, HashAlgorithmName.SHA256),
            RSA rsa => rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            _ => throw new NotSupportedException(),
        };
        return $"{header}.{payload}.{B64(signature)}";
    }

    private static async Task<JsonObject> ReadProtobufCsrAsync(HttpContext ctx)
    {
        using var buffer = new MemoryStream();
        await ctx.Request.Body.CopyToAsync(buffer, ctx.RequestAborted);
        return ProtobufCertificateSigningRequest.Decode(buffer.ToArray());
    }

    private static async Task<JsonObject> ReadObjectAsync(HttpContext ctx) =>
        await ReadOptionalObjectAsync(ctx) ?? throw ApiException.BadRequest("the body of the request is empty");

    private static async Task<JsonObject?> ReadOptionalObjectAsync(HttpContext ctx)
    {
        var contentType = (ctx.Request.ContentType ?? "application/json").Split(';')[0].Trim();
        using var reader = new StreamReader(ctx.Request.Body);
        var text = await reader.ReadToEndAsync(ctx.RequestAborted);
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (contentType is not ("application/json" or "*/*" or ""))
            throw ApiException.UnsupportedMediaType(contentType);
        return JsonNode.Parse(text) as JsonObject ?? throw ApiException.BadRequest("the body of the request must be a JSON object");
    }

    private static async Task WriteJsonAsync(HttpContext ctx, int status, JsonObject body)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(body.ToJsonString(Json), ctx.RequestAborted);
    }

    private static async Task WriteErrorAsync(HttpContext ctx, ApiException e)
    {
        if (ctx.Response.HasStarted)
        {
            ctx.Abort();
            return;
        }
        if (e.RetryAfterSeconds is { } retry) ctx.Response.Headers.RetryAfter = retry.ToString(CultureInfo.InvariantCulture);
        await WriteJsonAsync(ctx, e.Code, e.ToStatus());
    }
}
