using System.Net;
using KubeletPS.Core.Server.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace KubeletPS.Core.Server;

/// <summary>
/// The kubelet server (pkg/kubelet/server): HTTPS on address:port with Kestrel, every request authenticated
/// (<see cref="KubeletAuthenticator"/>) and authorized (<see cref="KubeletAuthorizer"/>) before it reaches its endpoint
/// (<see cref="KubeletServerRoutes"/>), and /healthz in plain HTTP on healthzBindAddress:healthzPort. The serving
/// certificate is read per TLS handshake from an <see cref="IServingCertificateSource"/>.
/// </summary>
public sealed class KubeletServer : IAsyncDisposable
{
    private readonly KubeletServerContext _context;
    private readonly IReadOnlyList<KubeletEndpoint> _endpoints;
    private readonly CancellationTokenSource _stopping = new();
    private IHost? _host;

    private KubeletServer(KubeletServerContext context, KubeletAuthenticator authenticator, KubeletAuthorizer authorizer)
    {
        _context = context;
        _endpoints = KubeletServerRoutes.For(context.Options);
        Authenticator = authenticator;
        Authorizer = authorizer;
    }

    public KubeletAuthenticator Authenticator { get; }
    public KubeletAuthorizer Authorizer { get; }

    /// <summary>The HTTPS port actually bound (what the Node's daemonEndpoints advertise).</summary>
    public int Port { get; private set; }

    /// <summary>The plain-HTTP healthz port, or null when healthzPort is 0.</summary>
    public int? HealthzPort { get; private set; }

    /// <summary>
    /// Loads the serving certificate (unless <paramref name="certificate"/> is given), checks the TLS, authentication and
    /// authorization settings, and listens. A port already taken is a <see cref="KubeletConfigException"/> naming it.
    /// </summary>
    public static async Task<KubeletServer> StartAsync(KubeletServerContext context, IServingCertificateSource? certificate = null, CancellationToken cancellationToken = default)
    {
        var options = context.Options;
        var tls = TlsSettings.Parse(options.TlsMinVersion, options.TlsCipherSuites);
        var address = ParseAddress(options.Address, "address");
        var healthzAddress = options.HealthzPort != 0 && options.HealthzBindAddress.Length > 0 ? ParseAddress(options.HealthzBindAddress, "healthzBindAddress") : null;
        var serving = certificate ?? context.ServingCertificate ?? ServingCertificates.Load(options, context.Log);
        var server = new KubeletServer(context,
            new KubeletAuthenticator(options, options.WebhookAuthenticationEnabled ? context.Client : null, context.Identity, context.Time),
            new KubeletAuthorizer(options, options.AuthorizationMode == "AlwaysAllow" ? null : context.Client, context.Identity, context.Time));
        var host = new HostBuilder()
            .ConfigureServices(services =>
            {
                // The agent owns Ctrl+C and SIGTERM; the host must not hook them (the default ConsoleLifetime would).
                services.AddSingleton<IHostLifetime, AgentOwnedLifetime>();
                services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
            })
            .ConfigureWebHost(web => web
                .UseKestrel(kestrel =>
                {
                    kestrel.AddServerHeader = false;
                    ApplyLimits(kestrel.Limits, options.Limits);
                    kestrel.Listen(address, options.Port, listen => listen.UseHttps(https =>
                    {
                        https.ServerCertificateSelector = (_, _) => serving.Current;
                        https.SslProtocols = tls.Protocols;
                        if (tls.CipherSuites is { } suites) https.OnAuthenticate = (_, ssl) => ssl.CipherSuitesPolicy = suites;
                        // Client certificates are verified per request against clientCAFile, so a bad one gets 401, not a TLS failure.
                        https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                        https.AllowAnyClientCertificate();
                        https.HandshakeTimeout = TimeSpan.FromSeconds(10);
                    }));
                    if (healthzAddress is not null) kestrel.Listen(healthzAddress, options.HealthzPort < 0 ? 0 : options.HealthzPort);
                })
                .Configure(app =>
                {
                    app.UseWebSockets();
                    app.Run(server.HandleAsync);
                }))
            .Build();
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            host.Dispose();
            var inUse = e.Message.Contains("in use", StringComparison.OrdinalIgnoreCase);
            var healthz = healthzAddress is not null && e.Message.Contains($":{options.HealthzPort}", StringComparison.Ordinal) && !e.Message.Contains($":{options.Port}", StringComparison.Ordinal);
            var (field, where) = healthz ? ("healthzPort", $"{options.HealthzBindAddress}:{options.HealthzPort}") : ("port", $"{options.Address}:{options.Port}");
            throw new KubeletConfigException($"{field}: the kubelet server cannot listen on {where}: {(inUse ? "the address is already in use" : e.Message)}.", null, field: field,
                category: KubeletErrorKind.Conflict, inner: e);
        }
        server._host = host;
        foreach (var bound in host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses)
        {
            var uri = new Uri(bound);
            if (uri.Scheme == "https") server.Port = uri.Port;
            else server.HealthzPort = uri.Port;
        }
        context.Log.Info($"kubelet server listening on https://{options.Address}:{server.Port}" +
                         (server.HealthzPort is { } hp ? $", healthz on http://{options.HealthzBindAddress}:{hp}" : "") + ".");
        return server;
    }

    private static void ApplyLimits(KestrelServerLimits kestrel, KubeletServerLimits limits)
    {
        kestrel.MaxRequestLineSize = limits.MaxHeaderBytes;
        kestrel.MaxRequestHeadersTotalSize = limits.MaxHeaderBytes;
        kestrel.MaxRequestHeaderCount = limits.MaxHeaderCount;
        kestrel.RequestHeadersTimeout = limits.RequestHeadersTimeout;
        kestrel.KeepAliveTimeout = limits.IdleTimeout;
        kestrel.MaxRequestBodySize = limits.MaxRequestBodySize;
        kestrel.MinRequestBodyDataRate = new MinDataRate(limits.MinRequestBodyBytesPerSecond, limits.MinRequestBodyGracePeriod);
    }

    /// <summary>
    /// A refusal (401, 403, 404, 405) is answered without reading the request's body, and the connection closed after it.
    /// Kestrel would otherwise drain the body (up to the body size limit) to reuse the connection, "Connection: close" or
    /// not; a body limit of 0 makes that drain fail at its first byte. Go's server, likewise, discards at most 256 KiB of
    /// an unread body and then closes.
    /// </summary>
    private static void CloseIfBodyUnread(HttpContext http)
    {
        if (http.Request.ContentLength is null or 0 && http.Request.Headers.TransferEncoding.Count == 0) return;
        http.Response.Headers.Connection = "close";
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = 0;
    }

    private static IPAddress ParseAddress(string text, string field) => text switch
    {
        "0.0.0.0" => IPAddress.Any,
        "::" => IPAddress.IPv6Any,
        _ => IPAddress.TryParse(text, out var ip) ? ip
            : throw new KubeletConfigException($"{field}: \"{text}\" is not an IP address.", null, field: field),
    };

    private async Task HandleAsync(HttpContext http)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, _stopping.Token);
        var ct = linked.Token;
        var path = http.Request.Path.Value is { Length: > 0 } p ? p : "/";
        try
        {
            if (!http.Request.IsHttps)
            {
                // The healthz port: only the healthz endpoints, no authentication (kubelet's healthz server).
                var healthz = _endpoints.FirstOrDefault(e => e.OnHealthzPort && e.Matches(path));
                if (healthz is null) await KubeletResponses.NotFoundAsync(http, ct).ConfigureAwait(false);
                else await healthz.Handler(new KubeletRequest(http, KubeletUser.Anonymous, _context, Remainder(healthz, path), ct)).ConfigureAwait(false);
                return;
            }
            var authentication = await Authenticator.AuthenticateAsync(http.Connection.ClientCertificate, http.Request.Headers.Authorization.ToString(), ct).ConfigureAwait(false);
            if (authentication.User is not { } user)
            {
                _context.Log.Debug($"kubelet server: {http.Request.Method} {path} from {http.Connection.RemoteIpAddress}: 401: {authentication.Failure}");
                CloseIfBodyUnread(http);
                await KubeletResponses.WriteTextAsync(http, 401, "Unauthorized", ct).ConfigureAwait(false);
                return;
            }
            var endpoint = _endpoints.FirstOrDefault(e => e.Matches(path));
            var attributes = KubeletRequestAttributes.For(user, http.Request.Method, path, _context.Options.NodeName);
            if (endpoint is not null) attributes = attributes with { Subresource = endpoint.Subresource };
            var (decision, reason) = await Authorizer.AuthorizeAsync(attributes, ct).ConfigureAwait(false);
            if (decision == KubeletAuthorizationDecision.Error)
            {
                _context.Log.Warning($"kubelet server: {attributes.ErrorMessage}: {reason}");
                await KubeletResponses.WriteTextAsync(http, 500, attributes.ErrorMessage, ct).ConfigureAwait(false);
                return;
            }
            if (decision != KubeletAuthorizationDecision.Allow)
            {
                _context.Log.Debug($"kubelet server: {http.Request.Method} {path}: {attributes.ForbiddenMessage}{(string.IsNullOrEmpty(reason) ? "" : ": " + reason)}");
                CloseIfBodyUnread(http);
                await KubeletResponses.WriteTextAsync(http, 403, attributes.ForbiddenMessage, ct).ConfigureAwait(false);
                return;
            }
            if (endpoint is null)
            {
                CloseIfBodyUnread(http);
                await KubeletResponses.NotFoundAsync(http, ct).ConfigureAwait(false);
                return;
            }
            if (!endpoint.Methods.Contains(http.Request.Method.ToUpperInvariant()))
            {
                http.Response.Headers.Allow = string.Join(", ", endpoint.Methods);
                CloseIfBodyUnread(http);
                await KubeletResponses.WriteTextAsync(http, 405, "405: Method Not Allowed", ct).ConfigureAwait(false);
                return;
            }
            await endpoint.Handler(new KubeletRequest(http, user, _context, Remainder(endpoint, path), ct)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away or the server is stopping.
        }
        catch (Exception e) when (e is KubeletException or IOException or InvalidOperationException)
        {
            _context.Log.Warning($"kubelet server: {http.Request.Method} {path}: {e.Message}");
            if (http.Response.HasStarted) http.Abort();
            else await KubeletResponses.WriteTextAsync(http, 500, e.Message, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static string Remainder(KubeletEndpoint endpoint, string path) =>
        path.Length > endpoint.Path.Length ? path[endpoint.Path.Length..].Trim('/') : "";

    /// <summary>Ends open streams (follow), then stops listening within a few seconds.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        var host = _host;
        if (host is null) return;
        _host = null;
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await host.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            host.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await StopAsync(timeout.Token).ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>A host lifetime that waits for nothing and hooks no signal: the agent starts and stops the server.</summary>
    private sealed class AgentOwnedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
