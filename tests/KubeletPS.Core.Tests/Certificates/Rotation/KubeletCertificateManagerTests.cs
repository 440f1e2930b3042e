using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using k8s;
using KubeletPS.Core.Api;
using KubeletPS.Core.Certificates.Bootstrap;
using KubeletPS.Core.Certificates.Rotation;
using KubeletPS.Core.Configuration.Clientcmd;
using KubeletPS.Core.Tests.Support;
using KubeletPS.Core.Tests.TestCluster;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Certificates.Rotation;

/// <summary>The certificate manager against the test API server: rotation, the live switch of the client, outages, denial, serving CSRs.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class KubeletCertificateManagerTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("kubeletps-rotation-");
    private readonly ListLog _log = new();

    private string PkiDir => Path.Combine(_dir.FullName, "pki");

    public void Dispose() => _dir.Delete(true);

    /// <summary>A node client certificate valid from <paramref name="notBefore"/> to <paramref name="notAfter"/>, as the agent holds it.</summary>
    private static RotatingCertificate NodeCertificate(TestApiServer server, string node, DateTimeOffset notBefore, DateTimeOffset notAfter) =>
        new(server.Pki.Issue(new CertificateSpec($"system:node:{node}") { Organizations = ["system:nodes"], NotBefore = notBefore, NotAfter = notAfter }).WithKey());

    private static Kubernetes ClientFor(TestApiServer server, RotatingCertificate certificate) =>
        ApiClientFactory.CreateClient(new KubeletPS.Core.Configuration.Clientcmd.Kubeconfig("kubelet.conf", "default-context", "default-cluster", "default-auth")
        {
            Server = server.Url, CertificateAuthorityData = System.Text.Encoding.ASCII.GetBytes(server.CaPem),
        }, certificate);

    private KubeletCertificateManager Manager(TestApiServer server, string node, RotatingCertificate current, IKubernetes client, double jitter = 0.5) =>
        new(KubeletCertificateTemplate.Client(node), PkiDir, current, client, new ApiIdentity(server.Url, $"system:node:{node}"), _log, jitter: () => jitter);

    private void AssertNoKeyMaterialLogged()
    {
        var text = string.Join("\n", _log.Lines);
        Assert.DoesNotContain("PRIVATE KEY", text);
        foreach (var file in Directory.Exists(PkiDir) ? Directory.GetFiles(PkiDir, "*.pem") : [])
            foreach (var line in PkiFixture.KeyLines(file)) Assert.DoesNotContain(line, text);
    }

    [Fact]
    public async Task A_rotation_writes_a_new_dated_0600_file_moves_the_link_and_the_running_client_switches_to_the_new_certificate()
    {
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki, ClientCertificateTtl = TimeSpan.FromMinutes(3) });
        using var current = NodeCertificate(server, "rot-1", DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(3));
        var oldSerial = current.Current.SerialNumber;
        using var client = ClientFor(server, current);
        await client.CoreV1.ListNodeAsync();
        // A long-lived watch on a connection made with the old certificate: it must end at the swap, as kubelet closes all connections.
        using var watchStop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var watch = Task.Run(async () =>
        {
            try
            {
                await foreach (var _ in client.CoreV1.WatchListNodeAsync(timeoutSeconds: 100, cancellationToken: watchStop.Token)) { }
            }
            catch (Exception e) when (e is HttpRequestException or IOException or KubernetesException)
            {
            }
        });
        await TestApiClients.WaitUntilAsync(() => current.Connections.Count > 0 && server.RequestLog.Count("list", "nodes") == 1, "the watch is open", 10);

        var rotation = await Manager(server, "rot-1", current, client).RotateAsync(null, CancellationToken.None);

        var link = Path.Combine(PkiDir, "kubelet-client-current.pem");
        Assert.Equal(rotation.CertificateFile, new FileInfo(link).LinkTarget);
        Assert.Matches(@"kubelet-client-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.pem$", rotation.CertificateFile);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(rotation.CertificateFile));
        Assert.StartsWith("csr-", rotation.CsrName);
        var csr = server.Store.Get("certificatesigningrequests", null, rotation.CsrName)!;
        Assert.Equal("system:node:rot-1", (string?)csr["spec"]!["username"]);
        Assert.Equal(["digital signature", "client auth"], csr["spec"]!["usages"]!.AsArray().Select(u => (string?)u));
        Assert.Equal(rotation.SerialNumber, current.Current.SerialNumber);
        Assert.NotEqual(oldSerial, rotation.SerialNumber);
        // The watch opened with the old certificate ended at the swap, well before its timeout.
        await watch.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.False(watchStop.IsCancellationRequested);

        server.RequestLog.Clear();
        await client.CoreV1.ListNodeAsync();
        // The old watch's entry may be logged when the server sees it end, after the clear: only the list counts here.
        var after = Assert.Single(server.RequestLog.Entries, e => e.Verb == "list");
        Assert.Equal(("system:node:rot-1", rotation.SerialNumber), (after.User, after.ClientCertificateSerial));
        using var onDisk = X509Certificate2.CreateFromPemFile(link, link);
        Assert.Equal(rotation.SerialNumber, onDisk.SerialNumber);
        Assert.True(onDisk.HasPrivateKey);
        AssertNoKeyMaterialLogged();
    }

    [Fact]
    public async Task During_an_API_outage_rotation_keeps_trying_warns_with_the_deadline_and_expiry_and_succeeds_when_the_server_returns()
    {
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki, ClientCertificateTtl = TimeSpan.FromMinutes(3) });
        // Past its deadline already (70 % of 10 minutes from 9 minutes ago), expiring in a minute.
        using var current = NodeCertificate(server, "rot-2", DateTimeOffset.UtcNow.AddMinutes(-9), DateTimeOffset.UtcNow.AddMinutes(1));
        using var client = ClientFor(server, current);
        var manager = Manager(server, "rot-2", current, client, jitter: 0);
        var rotated = new TaskCompletionSource<KubeletCertificateRotation>(TaskCreationOptions.RunContinuationsAsynchronously);
        manager.Rotated += r => rotated.TrySetResult(r);
        server.Faults.RefuseConnections();
        using var stop = new CancellationTokenSource();
        var run = manager.RunAsync(stop.Token);
        try
        {
            await TestApiClients.WaitUntilAsync(() => _log.Lines.Count(l => l.StartsWith("Warning: Could not rotate", StringComparison.Ordinal)) >= 2,
                "two failed attempts are reported", 30);
            Assert.False(rotated.Task.IsCompleted);
            var warning = _log.Lines.First(l => l.StartsWith("Warning: Could not rotate", StringComparison.Ordinal));
            Assert.Contains("client certificate of node rot-2 (attempt 1)", warning);
            Assert.Contains($"the rotation deadline was {manager.Deadline:u}", warning);
            Assert.Contains($"it expires at {current.Current.NotAfter.ToUniversalTime():u}", warning);
            Assert.Contains("Retrying in", warning);

            server.Faults.AcceptConnections();
            var rotation = await rotated.Task.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(rotation.SerialNumber, current.Current.SerialNumber);
            Assert.True(File.Exists(rotation.CertificateFile));
        }
        finally
        {
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(10)));
        }
        AssertNoKeyMaterialLogged();
    }

    [Fact]
    public async Task A_denied_renewal_fails_naming_the_csr_and_leaves_the_current_certificate_in_place()
    {
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki, ApproveNodeClientCertificateRequests = false });
        using var current = NodeCertificate(server, "rot-3", DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        var serial = current.Current.SerialNumber;
        using var client = ClientFor(server, current);
        var denier = Task.Run(async () =>
        {
            await TestApiClients.WaitUntilAsync(() => server.Store.List("certificatesigningrequests").Count > 0, "the CSR to be created");
            var name = server.Store.List("certificatesigningrequests")[0]["metadata"]!["name"]!.GetValue<string>();
            using var admin = ApiClient.Admin(server);
            var path = $"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}";
            var csr = (await admin.GetAsync(path)).Expect(HttpStatusCode.OK).Json;
            csr["status"] = new JsonObject { ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Denied", ["status"] = "True", ["reason"] = "NotOurs", ["message"] = "unknown machine" }) };
            (await admin.PutAsync(path + "/approval", csr)).Expect(HttpStatusCode.OK);
            return name;
        });

        var error = await Assert.ThrowsAsync<CertificateBootstrapException>(() => Manager(server, "rot-3", current, client).RotateAsync(null, CancellationToken.None));

        var name = await denier;
        Assert.Equal(CertificateBootstrapProblem.Denied, error.Problem);
        Assert.Equal($"The certificate signing request {name} is denied, reason: NotOurs, message: unknown machine", error.Message);
        Assert.Equal(serial, current.Current.SerialNumber);
        Assert.False(File.Exists(Path.Combine(PkiDir, "kubelet-client-current.pem")));
    }

    [Fact]
    public async Task An_expired_client_certificate_is_renewed_with_the_bootstrap_kubeconfig()
    {
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki });
        using var current = NodeCertificate(server, "rot-4", DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(-1));
        using var client = ClientFor(server, current);
        var bootstrap = Path.Combine(_dir.FullName, "bootstrap-kubelet.conf");
        server.WriteBootstrapKubeconfig(bootstrap, server.CreateBootstrapToken());
        var manager = new KubeletCertificateManager(KubeletCertificateTemplate.Client("rot-4"), PkiDir, current, client, new ApiIdentity(server.Url, "system:node:rot-4"), _log)
        {
            BootstrapKubeconfigPath = bootstrap,
        };

        var rotation = await manager.RotateAsync(null, CancellationToken.None);

        var csr = server.Store.Get("certificatesigningrequests", null, rotation.CsrName)!;
        Assert.StartsWith("system:bootstrap:", (string?)csr["spec"]!["username"]);
        Assert.True(rotation.NotAfter > DateTimeOffset.UtcNow.AddDays(300));
        server.RequestLog.Clear();
        await client.CoreV1.ReadNodeAsync("rot-4").ContinueWith(_ => { });
        Assert.Equal(rotation.SerialNumber, server.RequestLog.Entries.Single().ClientCertificateSerial);
    }

    [Fact]
    public async Task A_serving_certificate_waits_for_an_approver_and_carries_the_node_names_and_addresses()
    {
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki });
        using var node = NodeCertificate(server, "rot-5", DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        using var client = ClientFor(server, node);
        var manager = new KubeletCertificateManager(KubeletCertificateTemplate.Serving("rot-5", ["rot-5"], [IPAddress.Parse("10.20.30.41")]), PkiDir, null, client,
            new ApiIdentity(server.Url, "system:node:rot-5"), _log);
        var rotation = manager.RotateAsync(null, CancellationToken.None);
        await TestApiClients.WaitUntilAsync(() => server.Store.List("certificatesigningrequests").Count > 0, "the serving CSR to be created");
        var csr = server.Store.List("certificatesigningrequests")[0];
        var name = (string)csr["metadata"]!["name"]!;
        await Task.Delay(500);
        Assert.False(rotation.IsCompleted); // serving CSRs are not auto-approved
        Assert.Equal("kubernetes.io/kubelet-serving", (string?)csr["spec"]!["signerName"]);
        Assert.Equal(["digital signature", "server auth"], csr["spec"]!["usages"]!.AsArray().Select(u => (string?)u));

        using (var admin = ApiClient.Admin(server))
        {
            var path = $"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}";
            var current = (await admin.GetAsync(path)).Expect(HttpStatusCode.OK).Json;
            current["status"] = new JsonObject { ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Approved", ["status"] = "True", ["reason"] = "KubectlApprove" }) };
            (await admin.PutAsync(path + "/approval", current)).Expect(HttpStatusCode.OK);
        }
        var issued = await rotation.WaitAsync(TimeSpan.FromSeconds(30));

        var link = Path.Combine(PkiDir, "kubelet-server-current.pem");
        Assert.Equal(issued.CertificateFile, new FileInfo(link).LinkTarget);
        Assert.Matches(@"kubelet-server-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.pem$", issued.CertificateFile);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(issued.CertificateFile));
        var serving = manager.Current!.Current;
        Assert.True(serving.HasPrivateKey);
        Assert.Equal("CN=system:node:rot-5, O=system:nodes", serving.Subject);
        var san = serving.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["rot-5"], san.EnumerateDnsNames());
        Assert.Equal([IPAddress.Parse("10.20.30.41")], san.EnumerateIPAddresses());
        Assert.Contains(serving.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>(),
            o => o.Value == "1.3.6.1.5.5.7.3.1");
        AssertNoKeyMaterialLogged();
    }
}
