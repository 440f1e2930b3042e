using System.Security.Cryptography.X509Certificates;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Configuration.Clientcmd;
using KubeletPS.Core.Join;
using KubeletPS.Core.Tests.TestCluster;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Join;

/// <summary>Join-KubeletCluster's engine: the files kubeadm join writes, from discovery through TLS bootstrap.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class NodeJoinTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Readable = OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("kubeletps-join-");

    public void Dispose() => _dir.Delete(true);

    private NodeJoinOptions Options(string node) => new()
    {
        NodeName = node,
        KubeconfigPath = Path.Combine(_dir.FullName, "etc", "kubelet.conf"),
        ConfigPath = Path.Combine(_dir.FullName, "var", "config.yaml"),
        CertificateDirectory = Path.Combine(_dir.FullName, "var", "pki"),
        TlsBootstrapTimeout = TimeSpan.FromSeconds(20),
    };

    private static async Task<(DiscoveredCluster Cluster, BootstrapTokenString Token)> DiscoverAsync(TestApiServer server, string token)
    {
        var parsed = BootstrapTokenString.Parse(token);
        var cluster = await new ClusterInfoDiscovery().DiscoverAsync(new ClusterInfoDiscoveryOptions
        {
            ApiServerEndpoint = $"127.0.0.1:{server.Port}", Token = parsed, CACertHashes = [server.CaCertHash],
            Timeout = TimeSpan.FromSeconds(20), RetryInterval = TimeSpan.FromMilliseconds(200),
        }, null, CancellationToken.None);
        return (cluster, parsed);
    }

    private IEnumerable<string> AllFiles() => Directory.EnumerateFiles(_dir.FullName, "*", SearchOption.AllDirectories);

    [Fact]
    public async Task Joining_writes_kubeadms_files_with_the_clusters_kubelet_config_and_leaves_the_token_nowhere()
    {
        const string clusterConfig = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nclusterDomain: join.example\nmaxPods: 42\n";
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki, KubeletConfiguration = clusterConfig });
        var token = server.CreateBootstrapToken();
        var (cluster, parsed) = await DiscoverAsync(server, token);
        var messages = new List<string>();
        var options = Options("join-1");

        var result = await new NodeJoin().JoinAsync(cluster, parsed, options, messages.Add, CancellationToken.None);

        Assert.Equal("join-1", result.NodeName);
        Assert.Equal(server.Url, result.Server);
        Assert.True(result.ConfigFromCluster);
        Assert.Equal(clusterConfig, await File.ReadAllTextAsync(options.ConfigPath));
        Assert.Equal(Readable, File.GetUnixFileMode(options.ConfigPath));
        Assert.Equal(server.CaPem.Trim(), (await File.ReadAllTextAsync(options.CACertPath)).Trim());
        Assert.Equal(Readable, File.GetUnixFileMode(options.CACertPath));
        Assert.Equal(Path.Combine(_dir.FullName, "etc", "pki", "ca.crt"), result.CACertPath);
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(options.KubeconfigPath));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(result.CertificateFile!));
        Assert.Equal(Path.Combine(options.CertificateDirectory, "kubelet-client-current.pem"), result.CertificatePath);
        Assert.StartsWith("KUBELET_KUBEADM_ARGS=\"", await File.ReadAllTextAsync(options.FlagsEnvPath));
        Assert.False(File.Exists(options.BootstrapKubeconfigPath), "kubeadm removes bootstrap-kubelet.conf once the kubelet has its certificate");
        Assert.NotNull(result.CertificateNotAfter);

        var kubeconfig = await KubeconfigLoader.LoadAsync(options.KubeconfigPath, null, null, CancellationToken.None);
        Assert.Equal(server.Url, kubeconfig.Server);
        Assert.Equal(server.CaPem.Trim(), System.Text.Encoding.ASCII.GetString(kubeconfig.CertificateAuthorityData!).Trim());
        var pem = await File.ReadAllTextAsync(result.CertificatePath);
        using var certificate = X509Certificate2.CreateFromPem(pem, pem);
        Assert.Equal("CN=system:node:join-1, O=system:nodes", certificate.Subject);

        // The token secret is in no file left behind and in no progress message.
        Assert.All(AllFiles(), f => Assert.DoesNotContain(token[7..], File.ReadAllText(f)));
        Assert.DoesNotContain(messages, m => m.Contains(token[7..], StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains(token[..6] + ".****", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_kubelet_config_ConfigMap_kubeadms_kubelet_defaults_are_written()
    {
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki });
        var (cluster, token) = await DiscoverAsync(server, server.CreateBootstrapToken());
        var options = Options("join-2");

        var result = await new NodeJoin().JoinAsync(cluster, token, options, null, CancellationToken.None);

        Assert.False(result.ConfigFromCluster);
        var loaded = await KubeletConfigLoader.LoadAsync(options.ConfigPath, options.KubeconfigPath, null);
        Assert.Equal("systemd", loaded.Configuration.CgroupDriver);
        Assert.Equal(["10.96.0.10"], loaded.Configuration.ClusterDns);
        Assert.Equal("/etc/kubernetes/manifests", loaded.Configuration.StaticPodPath);
        Assert.Equal(options.CACertPath, loaded.Configuration.Authentication.X509.ClientCAFile);
        Assert.Empty(loaded.Warnings);
    }

    [Fact]
    public async Task An_earlier_join_is_not_overwritten_without_Force()
    {
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki });
        var (cluster, token) = await DiscoverAsync(server, server.CreateBootstrapToken());
        var options = Options("join-3");
        Directory.CreateDirectory(Path.GetDirectoryName(options.KubeconfigPath)!);
        await File.WriteAllTextAsync(options.KubeconfigPath, "earlier");

        var error = await Assert.ThrowsAsync<JoinException>(() => new NodeJoin().JoinAsync(cluster, token, options, null, CancellationToken.None));

        Assert.Equal(JoinProblem.AlreadyJoined, error.Problem);
        Assert.Contains(options.KubeconfigPath + " already exists", error.Message);
        Assert.Equal("earlier", await File.ReadAllTextAsync(options.KubeconfigPath));
        Assert.Single(AllFiles());
    }

    [Fact]
    public async Task A_Ready_node_of_the_same_name_is_refused_before_any_certificate_is_requested()
    {
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki });
        var node = TestObjects.Node("join-4");
        node["status"]!["conditions"]![1]!["status"] = "True";
        server.Store.Create("nodes", node);
        var (cluster, token) = await DiscoverAsync(server, server.CreateBootstrapToken());

        var error = await Assert.ThrowsAsync<JoinException>(() => new NodeJoin().JoinAsync(cluster, token, Options("join-4"), null, CancellationToken.None));

        Assert.Equal(JoinProblem.NodeExists, error.Problem);
        Assert.Equal("a Node with name \"join-4\" and status \"Ready\" already exists in the cluster. You must delete the existing Node or change the name of this new joining Node", error.Message);
        Assert.Empty(server.Store.List("certificatesigningrequests"));
        Assert.False(File.Exists(Options("join-4").BootstrapKubeconfigPath));
    }

    [Fact]
    public async Task A_token_that_expires_after_discovery_gives_a_clear_error_and_is_removed_from_disk()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki, TimeProvider = clock });
        var (cluster, token) = await DiscoverAsync(server, server.CreateBootstrapToken(TimeSpan.FromMinutes(1)));
        clock.Advance(TimeSpan.FromMinutes(2));
        var options = Options("join-5");

        var error = await Assert.ThrowsAsync<JoinException>(() => new NodeJoin().JoinAsync(cluster, token, options, null, CancellationToken.None));

        Assert.Equal(JoinProblem.TokenRefused, error.Problem);
        Assert.Equal(KubeletErrorKind.Authentication, error.Category);
        Assert.Contains($"refused the bootstrap token {token.Id}.**** (401 Unauthorized): it has expired or been deleted", error.Message);
        Assert.Contains("kubeadm token create --print-join-command", error.Message);
        Assert.False(File.Exists(options.BootstrapKubeconfigPath));
        Assert.False(File.Exists(options.KubeconfigPath));
    }

    [Fact]
    public async Task A_kubelet_config_ConfigMap_that_is_not_a_KubeletConfiguration_is_refused_and_not_written()
    {
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions
        {
            Pki = TestObjects.SharedPki, KubeletConfiguration = "apiVersion: v1\nkind: Pod\n",
        });
        var (cluster, token) = await DiscoverAsync(server, server.CreateBootstrapToken());
        var options = Options("join-6");

        var error = await Assert.ThrowsAsync<JoinException>(() => new NodeJoin().JoinAsync(cluster, token, options, null, CancellationToken.None));

        Assert.Equal(JoinProblem.KubeletConfigInvalid, error.Problem);
        Assert.Contains("kind", error.Message);
        Assert.False(File.Exists(options.ConfigPath));
        Assert.Empty(server.Store.List("certificatesigningrequests"));
    }
}
