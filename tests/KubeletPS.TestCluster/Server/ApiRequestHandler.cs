using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Auth;
using KubeletPS.TestCluster.Metrics;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Server.Controllers;
using KubeletPS.TestCluster.Server.Proxy;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Server;

/// <summary>
/// The request pipeline of kube-apiserver in one place: fault injection, authentication, request info, authorization,
/// then the REST handlers (get, list, watch, create, update, patch, delete) over the ObjectStore, with admission (NodeRestriction).
/// </summary>
internal sealed partial class ApiRequestHandler(
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
