using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using KubeletPS.Core.Certificates.Bootstrap;
using KubeletPS.Core.Configuration.Clientcmd;
using KubeletPS.Core.Node;
using KubeletPS.Core.Tests.Support;
using KubeletPS.Core.Tests.TestCluster;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Certificates.Bootstrap;

/// <summary>TLS bootstrap end to end against the test API server (bootstrap tokens, auto-approval, the CA's signer).</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class NodeCertificateBootstrapTests : IAsyncLifetime, IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("kubeletps-bootstrap-");
    private TestApiServer _server = null!;

    private string KubeletConf => Path.Combine(_dir.FullName, "kubelet.conf");
    private string BootstrapConf => Path.Combine(_dir.FullName, "bootstrap-kubelet.conf");
    private string PkiDir => Path.Combine(_dir.FullName, "pki");

    public async Task InitializeAsync() => _server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public void Dispose() => _dir.Delete(true);

    private CertificateBootstrapOptions Options(string node, bool force = false) => new()
    {
        KubeconfigPath = KubeletConf, BootstrapKubeconfigPath = BootstrapConf, CertificateDirectory = PkiDir, NodeName = node, Force = force,
        WaitTimeout = TimeSpan.FromSeconds(20),
    };

    [Fact]
    public async Task A_node_with_only_a_bootstrap_kubeconfig_gets_kubelet_conf_and_a_0600_pem_and_then_registers()
    {
        _server.WriteBootstrapKubeconfig(BootstrapConf, _server.CreateBootstrapToken());
        var stages = new List<CertificateBootstrapStage>();

        var result = await new NodeCertificateBootstrap().BootstrapAsync(Options("boot-1"), p => stages.Add(p.Stage), CancellationToken.None);

        Assert.True(result.Bootstrapped);
        Assert.StartsWith("node-csr-", result.CsrName);
        Assert.NotNull(_server.Store.Get("certificatesigningrequests", null, result.CsrName!));
        var current = Path.Combine(PkiDir, "kubelet-client-current.pem");
        Assert.Equal(result.CertificateFile, new FileInfo(current).LinkTarget);
        Assert.Matches(@"kubelet-client-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.pem$", result.CertificateFile);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(result.CertificateFile!));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KubeletConf));
        Assert.False(File.Exists(Path.Combine(PkiDir, "kubelet-client.key.tmp")));
        Assert.Contains(CertificateBootstrapStage.Done, stages);
        var pem = await File.ReadAllTextAsync(current);
        using var certificate = X509Certificate2.CreateFromPem(pem, pem);
        Assert.True(certificate.HasPrivateKey);
        Assert.Equal("CN=system:node:boot-1, O=system:nodes", certificate.Subject);
        // Encoded as Go's pkix.Name writes it (and openssl prints it): O first, then CN.
        Assert.Equal(["2.5.4.10", "2.5.4.3"], certificate.SubjectName.EnumerateRelativeDistinguishedNames(reversed: false).Select(r => r.GetSingleElementType().Value));
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_server.Pki.CA.Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(chain.Build(certificate), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));

        var kubeconfig = await KubeconfigLoader.LoadAsync(KubeletConf, null, null, CancellationToken.None);
        Assert.Equal(("default-context", "default-cluster", "default-auth"), (kubeconfig.ContextName, kubeconfig.ClusterName, kubeconfig.UserName));
        Assert.Equal(current, kubeconfig.ClientCertificateFile);
        Assert.Equal(current, kubeconfig.ClientKeyFile);
        using var client = ApiClientFactory.CreateClient(kubeconfig);
        var heartbeat = new NodeHeartbeat(client, new KubeletPS.Core.Api.ApiIdentity(_server.Url, "system:node:boot-1"), new NodeAgentOptions
        {
            NodeName = "boot-1", NodeIp = "10.1.2.3", RootDirectory = Path.GetTempPath(),
        }, new SettableRuntimeHealth());
        var registered = await heartbeat.RegisterWithRetryAsync(CancellationToken.None);
        Assert.True(registered.Created);
        Assert.NotNull(_server.Store.Get("nodes", null, "boot-1"));
    }

    [Fact]
    public async Task A_valid_kubelet_conf_is_kept_and_no_csr_is_sent()
    {
        _server.WriteNodeKubeconfig(KubeletConf, "boot-2");
        _server.WriteBootstrapKubeconfig(BootstrapConf, _server.CreateBootstrapToken());
        var before = await File.ReadAllTextAsync(KubeletConf);

        var result = await new NodeCertificateBootstrap().BootstrapAsync(Options("boot-2"), null, CancellationToken.None);

        Assert.False(result.Bootstrapped);
        Assert.Equal(before, await File.ReadAllTextAsync(KubeletConf));
        Assert.Empty(_server.Store.List("certificatesigningrequests"));
    }

    [Fact]
    public async Task Force_bootstraps_even_when_kubelet_conf_is_valid()
    {
        _server.WriteNodeKubeconfig(KubeletConf, "boot-2f");
        _server.WriteBootstrapKubeconfig(BootstrapConf, _server.CreateBootstrapToken());

        var result = await new NodeCertificateBootstrap().BootstrapAsync(Options("boot-2f", force: true), null, CancellationToken.None);

        Assert.True(result.Bootstrapped);
        Assert.Single(_server.Store.List("certificatesigningrequests"));
    }

    [Fact]
    public async Task An_expired_kubelet_conf_is_replaced()
    {
        var expired = _server.Pki.Issue(new CertificateSpec("system:node:boot-3")
        {
            Organizations = ["system:nodes"], NotBefore = DateTimeOffset.UtcNow.AddDays(-2), NotAfter = DateTimeOffset.UtcNow.AddDays(-1),
        });
        KubeletPS.TestCluster.Server.Kubeconfig.WritePrivateFile(KubeletConf,
            KubeletPS.TestCluster.Server.Kubeconfig.Render(_server.Url, _server.CaPem, "system:node:boot-3", expired.CertificatePem, expired.KeyPem()));
        _server.WriteBootstrapKubeconfig(BootstrapConf, _server.CreateBootstrapToken());

        var result = await new NodeCertificateBootstrap().BootstrapAsync(Options("boot-3"), null, CancellationToken.None);

        Assert.True(result.Bootstrapped);
        Assert.Contains("is expired", result.Reason);
        Assert.True(result.NotAfter > DateTimeOffset.UtcNow.AddDays(300));
        var kubeconfig = await KubeconfigLoader.LoadAsync(KubeletConf, null, null, CancellationToken.None);
        Assert.Equal("default-auth", kubeconfig.UserName);
    }

    [Fact]
    public async Task A_denied_csr_fails_naming_the_csr_and_the_reason()
    {
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki, ApproveNodeClientCertificateRequests = false });
        server.WriteBootstrapKubeconfig(BootstrapConf, server.CreateBootstrapToken());
        var denier = Task.Run(async () =>
        {
            // An administrator denies the CSR while the kubelet waits for it.
            await TestApiClients.WaitUntilAsync(() => Task.FromResult(server.Store.List("certificatesigningrequests").Count > 0), "the CSR to be created");
            var name = server.Store.List("certificatesigningrequests")[0]["metadata"]!["name"]!.GetValue<string>();
            server.Store.Update("certificatesigningrequests", null, name, csr =>
                csr["status"] = new JsonObject { ["conditions"] = new JsonArray(new JsonObject
                {
                    ["type"] = "Denied", ["status"] = "True", ["reason"] = "NotOurs", ["message"] = "unknown machine",
                }) });
            return name;
        });

        var error = await Assert.ThrowsAsync<CertificateBootstrapException>(() =>
            new NodeCertificateBootstrap().BootstrapAsync(Options("boot-4"), null, CancellationToken.None));

        var csrName = await denier;
        Assert.Equal(CertificateBootstrapProblem.Denied, error.Problem);
        Assert.Equal(csrName, error.CsrName);
        Assert.Equal($"The certificate signing request {csrName} is denied, reason: NotOurs, message: unknown machine", error.Message);
        Assert.False(File.Exists(KubeletConf));
    }

    [Fact]
    public async Task An_expired_bootstrap_token_fails_naming_the_token_id_but_never_the_secret()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki, TimeProvider = clock });
        var token = server.CreateBootstrapToken(TimeSpan.FromMinutes(1));
        server.WriteBootstrapKubeconfig(BootstrapConf, token);
        clock.Advance(TimeSpan.FromMinutes(2));

        var error = await Assert.ThrowsAsync<CertificateBootstrapException>(() =>
            new NodeCertificateBootstrap().BootstrapAsync(Options("boot-5"), null, CancellationToken.None));

        Assert.Equal(CertificateBootstrapProblem.Unauthorized, error.Problem);
        Assert.Contains($"bootstrap token \"{token[..6]}\"", error.Message);
        Assert.Contains(BootstrapConf, error.Message);
        Assert.DoesNotContain(token[7..], error.ToString());
        Assert.False(File.Exists(KubeletConf));
    }

    [Fact]
    public async Task A_retry_after_a_failure_reuses_the_pending_key_and_its_csr_name()
    {
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki, ApproveNodeClientCertificateRequests = false });
        server.WriteBootstrapKubeconfig(BootstrapConf, server.CreateBootstrapToken());
        var first = await Assert.ThrowsAsync<CertificateBootstrapException>(() =>
            new NodeCertificateBootstrap().BootstrapAsync(Options("boot-6") with { WaitTimeout = TimeSpan.FromSeconds(1) }, null, CancellationToken.None));
        Assert.Equal(CertificateBootstrapProblem.TimedOut, first.Problem);
        Assert.Contains($"kubectl certificate approve {first.CsrName}", first.Message);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(PkiDir, "kubelet-client.key.tmp")));

        using (var admin = ApiClient.Admin(server))
        {
            var path = $"/apis/certificates.k8s.io/v1/certificatesigningrequests/{first.CsrName}";
            var csr = (await admin.GetAsync(path)).Expect(System.Net.HttpStatusCode.OK).Json;
            csr["status"] = new JsonObject { ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Approved", ["status"] = "True", ["reason"] = "Test" }) };
            (await admin.PutAsync(path + "/approval", csr)).Expect(System.Net.HttpStatusCode.OK);
        }

        var result = await new NodeCertificateBootstrap().BootstrapAsync(Options("boot-6"), null, CancellationToken.None);

        Assert.Equal(first.CsrName, result.CsrName);
        Assert.Single(server.Store.List("certificatesigningrequests"));
    }

    [Fact]
    public async Task A_pending_key_readable_by_others_is_not_reused()
    {
        // Attack: a key someone else could read (mode 0644) waits in kubelet-client.key.tmp; reusing it would give the
        // node a certificate for a key that is not secret.
        Directory.CreateDirectory(PkiDir);
        using var planted = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var pendingKey = Path.Combine(PkiDir, "kubelet-client.key.tmp");
        await File.WriteAllTextAsync(pendingKey, planted.ExportECPrivateKeyPem());
        File.SetUnixFileMode(pendingKey, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        _server.WriteBootstrapKubeconfig(BootstrapConf, _server.CreateBootstrapToken());

        var result = await new NodeCertificateBootstrap().BootstrapAsync(Options("boot-7"), null, CancellationToken.None);

        using var issued = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(result.CertificatePath!));
        Assert.NotEqual(Convert.ToBase64String(planted.ExportSubjectPublicKeyInfo()), Convert.ToBase64String(issued.PublicKey.ExportSubjectPublicKeyInfo()));
    }
}
