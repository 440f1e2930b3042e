using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using KubeletPS.Core.Server.Streaming;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Auth;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Server.Proxy;

/// <summary>
/// kube-apiserver's way to the kubelets (--kubelet-client-certificate): pods/log (GET /api/v1/namespaces/NS/pods/NAME/log,
/// pkg/registry/core/pod/rest/log.go → the kubelet's /containerLogs/NS/NAME/CONTAINER) and nodes/proxy
/// (/api/v1/nodes/NAME/proxy/PATH → the kubelet's /PATH), to the Node's InternalIP (else Hostname) at
/// status.daemonEndpoints.kubeletEndpoint.Port, presenting a kubelet-client certificate of the cluster CA
/// (CN kube-apiserver-kubelet-client, O system:masters, as kubeadm issues it). Bodies are streamed (logs -f).
/// The kubelet's serving certificate is verified only when <see cref="TestApiServerOptions.KubeletCertificateAuthority"/>
/// is set (--kubelet-certificate-authority): kubeadm leaves it unset, so by default it is not, as in a kubeadm cluster.
/// Connection upgrades (exec, attach, portforward) branch off in <see cref="ForwardAsync"/>.
/// <para>
/// It is also the one way metrics.k8s.io reaches a kubelet (<see cref="ScrapeResourceMetricsAsync"/>, as metrics-server
/// does): the same address and port lookup and verification, with metrics-server's own identity (CN system:metrics-server,
/// O system:masters) and its --kubelet-insecure-tls (<see cref="TestApiServerOptions.MetricsKubeletInsecureTls"/>; when
/// off, the serving certificate must chain to the cluster CA).
/// </para>
/// </summary>
internal sealed class KubeletProxy : IDisposable
{
    /// <summary>The PodLogOptions query parameters the API server passes on to the kubelet.</summary>
    private static readonly string[] LogParameters = ["follow", "previous", "sinceSeconds", "sinceTime", "timestamps", "tailLines", "limitBytes"];

    private readonly ObjectStore _store;
    private readonly HttpClient _http;
    private readonly HttpClient _metrics;

    public KubeletProxy(ObjectStore store, ClusterPki pki, TestApiServerOptions options)
    {
        _store = store;
        ClientCertificate = pki.Issue(new CertificateSpec("kube-apiserver-kubelet-client") { Organizations = [UserInfo.Masters] });
        var authority = options.KubeletCertificateAuthority;
        _http = CreateClient(ClientCertificate, authority, Timeout.InfiniteTimeSpan);
        // exec, attach, portforward and upgrades through nodes/proxy: the same identity and verification, the connection proxied.
        Upgrades = new UpgradeAwareProxy(new UpgradeAwareProxyOptions
        {
            IdleTimeout = options.StreamingConnectionIdleTimeout ?? UpgradeAwareProxyOptions.DefaultIdleTimeout,
            BackendTls = new SslClientAuthenticationOptions
            {
                ClientCertificates = [ClientCertificate.WithKey()],
                RemoteCertificateValidationCallback = (_, certificate, _, errors) => VerifyKubelet(certificate, errors, authority),
            },
        });
        var metricsServer = pki.Issue(new CertificateSpec("system:metrics-server") { Organizations = [UserInfo.Masters] });
        _metrics = CreateClient(metricsServer, options.MetricsKubeletInsecureTls ? null : pki.CA.Certificate, TimeSpan.FromSeconds(10));
    }

    /// <summary>A client presenting <paramref name="identity"/> to kubelets, verifying them against <paramref name="authority"/> (none: not verified).</summary>
    private static HttpClient CreateClient(IssuedCertificate identity, X509Certificate2? authority, TimeSpan timeout)
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10), PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) };
        handler.SslOptions.ClientCertificates = [identity.WithKey()];
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => VerifyKubelet(certificate, errors, authority);
        return new HttpClient(handler) { Timeout = timeout };
    }

    /// <summary>metrics-server's scrape: GET /metrics/resource of the node's kubelet; the text, or an exception saying why not.</summary>
    public async Task<string> ScrapeResourceMetricsAsync(string nodeName, CancellationToken cancellationToken)
    {
        var uri = new UriBuilder(KubeletUri(nodeName)) { Path = "/metrics/resource" }.Uri;
        using var response = await _metrics.GetAsync(uri, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET {uri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)}");
        }
        return await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The upgrade-aware proxy to kubelets (streamingConnectionIdleTimeout from the options).</summary>
    public UpgradeAwareProxy Upgrades { get; }

    /// <summary>
    /// No authority (kubeadm's default --kubelet-certificate-authority unset; metrics-server's --kubelet-insecure-tls): any
    /// certificate. Else it must chain to the authority and name the address connected to, as Go's TLS checks.
    /// </summary>
    private static bool VerifyKubelet(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2? authority)
    {
        if (certificate is null) return false;
        if (authority is null) return true;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData())) && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == 0;
    }

    /// <summary>The certificate the API server presents to kubelets.</summary>
    public IssuedCertificate ClientCertificate { get; }

    public static bool Handles(RequestAttributes a) => a.IsResourceRequest && a.ApiGroup == ""
        && ((a is { Resource: "pods", Subresource: "log", Verb: "get" }) || (a is { Resource: "nodes", Subresource: "proxy" }));

    public Task HandleAsync(HttpContext ctx, RequestAttributes a) =>
        a.Resource == "pods" ? LogAsync(ctx, a) : NodeProxyAsync(ctx, a);

    /// <summary>pods/log: the pod's validation as the pod registry's LogLocation, then the kubelet's containerLogs.</summary>
    private async Task LogAsync(HttpContext ctx, RequestAttributes a)
    {
        var pod = _store.Get(ResourceRegistry.Pods, a.Namespace, a.Name);
        var containers = (pod["spec"]?["containers"] as JsonArray ?? []).Select(c => c?["name"]?.GetValue<string>() ?? "").ToList();
        var all = containers.Concat((pod["spec"]?["initContainers"] as JsonArray ?? []).Select(c => c?["name"]?.GetValue<string>() ?? ""))
            .Concat((pod["spec"]?["ephemeralContainers"] as JsonArray ?? []).Select(c => c?["name"]?.GetValue<string>() ?? "")).ToList();
        var container = ctx.Request.Query["container"].ToString();
        if (container.Length == 0)
        {
            if (containers.Count != 1)
                throw ApiException.BadRequest($"a container name must be specified for pod {a.Name}, choose one of: [{string.Join(" ", all)}]");
            container = containers[0];
        }
        else if (!all.Contains(container))
        {
            throw ApiException.BadRequest($"container {container} is not valid for pod {a.Name}");
        }
        var nodeName = pod["spec"]?["nodeName"]?.GetValue<string>() ?? "";
        if (nodeName.Length == 0) throw ApiException.BadRequest($"pod {a.Name} does not have a host assigned");
        var query = string.Join('&', LogParameters.Where(p => ctx.Request.Query[p].ToString().Length > 0)
            .Select(p => $"{p}={Uri.EscapeDataString(ctx.Request.Query[p].ToString())}"));
        var target = new UriBuilder(KubeletUri(nodeName))
        {
            Path = $"/containerLogs/{Uri.EscapeDataString(a.Namespace)}/{Uri.EscapeDataString(a.Name)}/{Uri.EscapeDataString(container)}",
            Query = query,
        }.Uri;
        await ForwardAsync(ctx, target, checkResponse: true, a.Name);
    }

    /// <summary>nodes/proxy: the rest of the path and the query to the kubelet, its answer passed through.</summary>
    private async Task NodeProxyAsync(HttpContext ctx, RequestAttributes a)
    {
        var marker = $"/nodes/{a.Name}/proxy";
        var path = ctx.Request.Path.Value ?? "";
        var at = path.IndexOf(marker, StringComparison.Ordinal);
        var rest = at < 0 ? "/" : path[(at + marker.Length)..];
        if (rest.Length == 0) rest = "/";
        var target = new UriBuilder(KubeletUri(a.Name)) { Path = rest, Query = ctx.Request.QueryString.Value?.TrimStart('?') ?? "" }.Uri;
        await ForwardAsync(ctx, target, checkResponse: false, a.Name);
    }

    /// <summary>https://ADDRESS:PORT of the node's kubelet, as kube-apiserver's NodeConnectionInfoGetter finds it.</summary>
    internal Uri KubeletUri(string nodeName)
    {
        var node = _store.Get(ResourceRegistry.Nodes, null, nodeName);
        var addresses = node["status"]?["addresses"] as JsonArray ?? [];
        string? Address(string type) => addresses.FirstOrDefault(x => x?["type"]?.GetValue<string>() == type)?["address"]?.GetValue<string>();
        var host = Address("InternalIP") ?? Address("ExternalIP") ?? Address("Hostname")
            ?? throw ApiException.InternalError($"no preferred addresses found; known addresses: []");
        var port = node["status"]?["daemonEndpoints"]?["kubeletEndpoint"]?["Port"]?.GetValue<int>() ?? 0;
        if (port <= 0) port = 10250;
        return new UriBuilder("https", IPAddress.TryParse(host, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{host}]" : host, port).Uri;
    }

    private async Task ForwardAsync(HttpContext ctx, Uri target, bool checkResponse, string name)
    {
        // An upgrade request (Connection: Upgrade — SPDY or WebSocket for exec, attach, portforward) needs the
        // connection itself proxied both ways; it branches off here.
        if (ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpUpgradeFeature>()?.IsUpgradableRequest == true)
        {
            await Upgrades.ProxyAsync(ctx, target);
            return;
        }
        using var request = new HttpRequestMessage(new HttpMethod(ctx.Request.Method), target);
        if (ctx.Request.ContentLength > 0 || ctx.Request.Headers.TransferEncoding.Count > 0)
        {
            request.Content = new StreamContent(ctx.Request.Body);
            if (ctx.Request.ContentType is { } type) request.Content.Headers.TryAddWithoutValidation("Content-Type", type);
        }
        foreach (var header in new[] { "Accept", "Accept-Encoding" })
        {
            if (ctx.Request.Headers[header].ToString() is { Length: > 0 } value) request.Headers.TryAddWithoutValidation(header, value);
        }
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ctx.RequestAborted);
        }
        catch (HttpRequestException e)
        {
            var why = e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;
            throw checkResponse
                ? ApiException.InternalError($"Get \"{target}\": {why}")
                : new ApiException(503, "ServiceUnavailable", $"error trying to reach service: {why}");
        }
        using (response)
        {
            var status = (int)response.StatusCode;
            if (checkResponse && status is < 200 or > 299)
            {
                // genericHttpResponseChecker: the kubelet's text becomes the error.
                var text = (await response.Content.ReadAsStringAsync(ctx.RequestAborted)).Trim();
                throw status == 400 ? ApiException.BadRequest(text)
                    : new ApiException(status, status switch { 401 => "Unauthorized", 403 => "Forbidden", 404 => "NotFound", _ => "InternalError" },
                        text.Length > 0 ? text : $"pods/log \"{name}\": the server responded with the status code {status} but did not return more information");
            }
            ctx.Response.StatusCode = status;
            foreach (var (key, values) in response.Content.Headers.Concat(response.Headers))
            {
                if (key is "Transfer-Encoding" or "Connection" or "Keep-Alive" or "Content-Length") continue;
                ctx.Response.Headers[key] = values.ToArray();
            }
            if (response.Content.Headers.ContentLength is { } length) ctx.Response.ContentLength = length;
            await using var body = await response.Content.ReadAsStreamAsync(ctx.RequestAborted);
            var buffer = new byte[32 * 1024];
            int read;
            while ((read = await body.ReadAsync(buffer, ctx.RequestAborted)) > 0)
            {
                await ctx.Response.Body.WriteAsync(buffer.AsMemory(0, read), ctx.RequestAborted);
                await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
            }
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _metrics.Dispose();
    }
}
