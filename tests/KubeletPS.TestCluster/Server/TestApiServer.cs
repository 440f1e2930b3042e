using System.Net;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Auth;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Server.Controllers;
using KubeletPS.TestCluster.Storage;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace KubeletPS.TestCluster.Server;

/// <summary>
/// An in-process stand-in for kube-apiserver: Kestrel on 127.0.0.1 with real TLS and x509 client authentication, serving the
/// resources a kubelet uses with the real API's semantics. State lives in <see cref="Store"/> and survives
/// <see cref="StopListeningAsync"/> / <see cref="ResumeListeningAsync"/>.
/// </summary>
public sealed class TestApiServer : IAsyncDisposable
{
    private readonly TestApiServerOptions _options;
    private readonly IssuedCertificate _serving;
    private readonly ApiRequestHandler _handler;
    private readonly ILoggerFactory _loggerFactory;
    private readonly BootstrapSigner _signer;
    private readonly NodeHealthMonitor? _nodeHealth;
    private WebApplication? _app;

    private TestApiServer(TestApiServerOptions options)
    {
        _options = options;
        Pki = options.Pki ?? new ClusterPki();
        _serving = Pki.IssueServer();
        Store = new ObjectStore(options.WatchCacheSize, options.TimeProvider) { RootCaPem = Pki.CA.CertificatePem };
        Faults = new FaultInjector(options.TimeProvider, Store.DropWatches);
        _loggerFactory = LoggerFactory.Create(b =>
        {
            if (options.LoggerProvider is { } provider) b.AddProvider(provider);
            else b.AddSimpleConsole(o => o.SingleLine = true);
            b.SetMinimumLevel(options.MinimumLogLevel);
        });
        var authorizer = new UnionAuthorizer(new NodeAuthorizer(Store), new RuleAuthorizer(RuleAuthorizer.BootstrapRules.Concat(RuleAuthorizer.KubeadmRules).Concat(options.Rules)));
        _handler = new ApiRequestHandler(Store, Pki, new ClientCertificateAuthenticator(Pki.CA.Certificate, options.TimeProvider),
            new BootstrapTokenAuthenticator(Store, options.TimeProvider), authorizer,
            Faults, RequestLog, options, () => $"127.0.0.1:{Port}", _loggerFactory.CreateLogger("KubeletPS.TestCluster.ApiServer"));
        SeedCluster();
        _signer = new BootstrapSigner(Store, options.TimeProvider);
        if (options.NodeMonitorGracePeriod is { } grace) _nodeHealth = new NodeHealthMonitor(Store, grace, options.NodeMonitorPeriod, options.TimeProvider);
    }

    /// <summary>The server URL, e.g. https://127.0.0.1:41234.</summary>
    public string Url => $"https://127.0.0.1:{Port}";

    public int Port { get; private set; }

    public ClusterPki Pki { get; }

    /// <summary>The cluster CA certificate in PEM (what ca.crt and certificate-authority-data hold).</summary>
    public string CaPem => Pki.CA.CertificatePem;

    /// <summary>The cluster state, for seeding and inspecting without HTTP.</summary>
    public ObjectStore Store { get; }

    public FaultInjector Faults { get; }

    public RequestLog RequestLog { get; } = new();

    /// <summary>pods/portforward WebSockets tunnelled to a kubelet's SPDY so far (see <see cref="TestApiServerOptions.PortForwardWebsockets"/>).</summary>
    public int PortForwardTunnels => _handler.Streaming.Tunnel.Established;

    /// <summary>The last error scraping each kubelet for metrics.k8s.io ("node: message").</summary>
    public IEnumerable<string> MetricsScrapeErrors => _handler.Metrics.Errors.Select(e => $"{e.Key}: {e.Value}");

    public bool IsListening => _app is not null;

    public static async Task<TestApiServer> StartAsync(TestApiServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        var server = new TestApiServer(options ?? new TestApiServerOptions());
        try
        {
            await server.ListenAsync(server._options.Port, cancellationToken);
            ClusterInfoPublisher.Publish(server.Store, server.Url, server.CaPem, server._options.KubeletConfiguration);
            server._signer.Start();
            server._nodeHealth?.Start();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>Closes the listener and every connection (open watches end abruptly); state is kept.</summary>
    public async Task StopListeningAsync()
    {
        var app = _app;
        if (app is null) return;
        _app = null;
        Store.DropWatches();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await app.StopAsync(timeout.Token);
        await app.DisposeAsync();
    }

    /// <summary>Listens again on the same port, as an apiserver coming back after a restart.</summary>
    public async Task ResumeListeningAsync(CancellationToken cancellationToken = default)
    {
        if (_app is not null) return;
        await ListenAsync(Port, cancellationToken);
    }

    /// <summary>Issues a client certificate for CN <paramref name="userName"/>, O <paramref name="groups"/>.</summary>
    public IssuedCertificate IssueClientCertificate(string userName, params string[] groups) =>
        Pki.Issue(new CertificateSpec(userName) { Organizations = groups });

    public void WriteKubeconfig(string path, string userName, params string[] groups)
    {
        var cert = IssueClientCertificate(userName, groups);
        Kubeconfig.WritePrivateFile(path, Kubeconfig.Render(Url, CaPem, userName, cert.CertificatePem, cert.KeyPem()));
    }

    public void WriteNodeKubeconfig(string path, string nodeName) =>
        WriteKubeconfig(path, UserInfo.NodeUserPrefix + nodeName, UserInfo.NodesGroup);

    /// <summary>A node kubeconfig whose client certificate, signed by the cluster CA, expired 35 days ago (a node left off too long).</summary>
    public void WriteExpiredNodeKubeconfig(string path, string nodeName)
    {
        var now = _options.TimeProvider.GetUtcNow();
        var cert = Pki.Issue(new CertificateSpec(UserInfo.NodeUserPrefix + nodeName)
        {
            Organizations = [UserInfo.NodesGroup],
            NotBefore = now.AddDays(-400),
            NotAfter = now.AddDays(-35),
        });
        Kubeconfig.WritePrivateFile(path, Kubeconfig.Render(Url, CaPem, UserInfo.NodeUserPrefix + nodeName, cert.CertificatePem, cert.KeyPem()));
    }

    public void WriteAdminKubeconfig(string path) => WriteKubeconfig(path, "kubernetes-admin", UserInfo.Masters);

    /// <summary>
    /// Creates a bootstrap token as <c>kubeadm token create</c> does (Secret bootstrap-token-ID in kube-system, group
    /// system:bootstrappers:kubeadm:default-node-token) valid for <paramref name="ttl"/> (default 24 h); returns ID.SECRET.
    /// </summary>
    public string CreateBootstrapToken(TimeSpan? ttl = null)
    {
        var (id, secret) = BootstrapTokenAuthenticator.NewToken();
        Store.Create(ResourceRegistry.Secrets, BootstrapTokenAuthenticator.TokenSecret(id, secret, _options.TimeProvider.GetUtcNow() + (ttl ?? TimeSpan.FromHours(24))));
        return $"{id}.{secret}";
    }

    /// <summary>Writes a bootstrap kubeconfig (server, CA data, user tls-bootstrap-token-user with the token) as kubeadm join does.</summary>
    public void WriteBootstrapKubeconfig(string path, string token) =>
        Kubeconfig.WritePrivateFile(path, Kubeconfig.RenderToken(Url, CaPem, "tls-bootstrap-token-user", token));

    /// <summary>The pin of the cluster CA's public key as kubeadm prints it for --discovery-token-ca-cert-hash: sha256:HEX of its SubjectPublicKeyInfo.</summary>
    public string CaCertHash => "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Pki.CA.Certificate.PublicKey.ExportSubjectPublicKeyInfo()));

    /// <summary>An HttpClient that trusts the cluster CA and presents <paramref name="clientCertificate"/> (none: anonymous).</summary>
    public HttpClient CreateHttpClient(IssuedCertificate? clientCertificate = null)
    {
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, _) =>
        {
            if (cert is null) return false;
            using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
            chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(Pki.CA.Certificate);
            chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
            return chain.Build(new System.Security.Cryptography.X509Certificates.X509Certificate2(cert));
        };
        if (clientCertificate is not null)
            handler.SslOptions.ClientCertificates = [clientCertificate.WithKey()];
        return new HttpClient(handler) { BaseAddress = new Uri(Url) };
    }

    /// <summary>The certificate this server presents to kubelets (pods/log, nodes/proxy).</summary>
    public IssuedCertificate KubeletClientCertificate => _handler.Kubelets.ClientCertificate;

    public async ValueTask DisposeAsync()
    {
        await StopListeningAsync();
        await _signer.DisposeAsync();
        if (_nodeHealth is not null) await _nodeHealth.DisposeAsync();
        // The scrape loop first: it reaches kubelets through the proxy.
        await _handler.Metrics.DisposeAsync();
        _handler.Kubelets.Dispose();
        _loggerFactory.Dispose();
    }

    private async Task ListenAsync(int port, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(TestApiServer).Assembly.GetName().Name });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(_loggerFactory);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var serving = _serving.WithKey();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, port, listen =>
            {
                listen.Use(next => async connection =>
                {
                    if (Faults.IsRefusingConnections)
                    {
                        connection.Abort(new ConnectionAbortedException("refusing connections (fault injection)"));
                        return;
                    }
                    await next(connection);
                });
                listen.UseHttps(https =>
                {
                    https.ServerCertificate = serving;
                    https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                    // Verification against the cluster CA happens per request so a bad certificate gets 401, not a TLS failure.
                    https.AllowAnyClientCertificate();
                });
            });
        });
        var app = builder.Build();
        app.Run(_handler.HandleAsync);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Port = new Uri(address).Port;
        _app = app;
    }

    /// <summary>What a fresh cluster has: the four system namespaces with their default service accounts and kube-root-ca.crt configmaps.</summary>
    private void SeedCluster()
    {
        foreach (var ns in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
        {
            Store.Create(ResourceRegistry.Namespaces, new JsonObject { ["metadata"] = new JsonObject { ["name"] = ns } });
        }
    }
}
