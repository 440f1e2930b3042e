using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Tests.Agent;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Server;

/// <summary>
/// serverTLSBootstrap end to end: the agent's kubelet-serving CSR waits for an administrator, the kubelet port refuses TLS
/// until it is approved, then presents the cluster-CA certificate, which the API server verifies when proxying to it.
/// </summary>
[Collection(KubeletAgentCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ServingCertificateBootstrapTests(KubeletAgentFixture fixture) : IAsyncLifetime
{
    private const string Node = "serving-node";
    private readonly ClusterPki _pki = new();
    private TestApiServer _api = null!;
    private string _dir = null!;
    private readonly ListLog _log = new();

    public async Task InitializeAsync()
    {
        // --kubelet-certificate-authority: the API server verifies the kubelet's serving certificate against the cluster CA.
        _api = await TestApiServer.StartAsync(new TestApiServerOptions
        {
            BookmarkInterval = TimeSpan.FromSeconds(1), Pki = _pki, KubeletCertificateAuthority = _pki.CA.Certificate,
        });
        _dir = Directory.CreateTempSubdirectory("kubeletps-serving-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        Directory.Delete(_dir, true);
    }

    private string AdminConf => Path.Combine(_dir, "admin.conf");

    private Task<string> KubectlAsync(params string[] args) => new TestKubectl(AdminConf, _dir).OutputAsync(args);

    /// <summary>The certificate the kubelet port presents; the handshake is completed only when it chains to the cluster CA.</summary>
    private async Task<X509Certificate2> HandshakeAsync(int port)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) => certificate is not null && ChainsToClusterCa(certificate));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1" }).WaitAsync(TimeSpan.FromSeconds(20));
        return X509CertificateLoader.LoadCertificate(tls.RemoteCertificate!.GetRawCertData());
    }

    private bool ChainsToClusterCa(X509Certificate certificate)
    {
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_pki.CA.Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }

    [Fact]
    public async Task The_kubelet_port_presents_the_approved_kubelet_serving_certificate_which_the_API_server_verifies()
    {
        _api.WriteAdminKubeconfig(AdminConf);
        var kubeconfig = Path.Combine(_dir, "kubelet.conf");
        _api.WriteNodeKubeconfig(kubeconfig, Node);
        var pki = Path.Combine(_dir, "pki");
        var ca = Path.Combine(_dir, "ca.crt");
        File.WriteAllText(ca, _api.CaPem);
        var config = Path.Combine(_dir, "config.yaml");
        File.WriteAllText(config,
            $"apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nserverTLSBootstrap: true\nauthentication:\n  x509:\n    clientCAFile: {ca}\n");
        await using var agent = await KubeletAgent.CreateAsync(new KubeletAgentRequest
        {
            Node = new NodeAgentRequest
            {
                KubeconfigPath = kubeconfig, ConfigPath = config, NodeName = Node, NodeIp = "127.0.0.1", CertificateDirectory = pki,
                RuntimeEndpoint = fixture.Containerd.Endpoint, RootDirectory = Path.Combine(_dir, "root"),
            },
            PodLogDirectory = fixture.Containerd.PodLogsDir, StaticPodPath = "", StopPodsOnExit = true, ServerPort = 0, HealthzPort = -1,
        }, _log, CancellationToken.None);
        using var stop = new CancellationTokenSource();
        var run = agent.RunAsync(null, null, stop.Token);
        try
        {
            await TestApiClients.WaitUntilAsync(() => _api.Store.Get("nodes", null, Node) is not null, "the node registered", 60);
            await TestApiClients.WaitUntilAsync(() => _api.Store.List("certificatesigningrequests", null)
                .Any(c => (string?)c["spec"]?["signerName"] == "kubernetes.io/kubelet-serving"), "the kubelet-serving CSR was sent", 60);
            var csr = _api.Store.List("certificatesigningrequests", null).Single(c => (string?)c["spec"]?["signerName"] == "kubernetes.io/kubelet-serving");
            var csrName = (string)csr["metadata"]!["name"]!;
            Assert.Equal("system:node:" + Node, (string?)csr["spec"]!["username"]);
            // Not approved by the controller: kubelet-serving CSRs wait for an administrator.
            Assert.Null(csr["status"]?["conditions"]);
            Assert.Null(csr["status"]?["certificate"]);

            // Before approval the handshake fails: kubelet has no serving certificate to present.
            var port = agent.Server!.Port;
            var before = await Record.ExceptionAsync(() => HandshakeAsync(port));
            Assert.True(before is IOException or System.Security.Authentication.AuthenticationException or SocketException,
                $"a TLS handshake with the kubelet port before approval: {before?.ToString() ?? "succeeded"}");

            Assert.Contains("approved", await KubectlAsync("certificate", "approve", csrName));
            await TestApiClients.WaitUntilAsync(() => File.Exists(Path.Combine(pki, "kubelet-server-current.pem")), "kubelet-server-current.pem was written", 60);
            X509Certificate2? presented = null;
            await TestApiClients.WaitUntilAsync(async () =>
            {
                try { presented = await HandshakeAsync(port); return true; }
                catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException) { return false; }
            }, "the kubelet port presents a certificate", 30);
            // Issued by the cluster CA (the handshake verified the chain), for the node.
            using var leaf = presented!;
            Assert.Equal("CN=system:node:" + Node + ", O=system:nodes", leaf.Subject);
            var san = leaf.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
            Assert.Contains(IPAddress.Parse("127.0.0.1"), san.EnumerateIPAddresses());
            Assert.Contains(Node, san.EnumerateDnsNames());
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite,
                File.GetUnixFileMode(new FileInfo(Path.Combine(pki, "kubelet-server-current.pem")).ResolveLinkTarget(true)!.FullName));

            // The API server's proxy verifies the kubelet against the cluster CA and reaches it.
            Assert.Equal("ok", await KubectlAsync("get", "--raw", $"/api/v1/nodes/{Node}/proxy/healthz"));
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException || e.Message.StartsWith("Timed out", StringComparison.Ordinal))
        {
            throw new Exception($"{e.Message}\nagent log:\n{string.Join("\n", _log.Lines.TakeLast(40))}", e);
        }
        finally
        {
            await stop.CancelAsync();
            await run.WaitAsync(TimeSpan.FromMinutes(2));
        }
    }
}
