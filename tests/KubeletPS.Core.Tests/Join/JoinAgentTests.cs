using KubeletPS.Core.Agent;
using KubeletPS.Core.Join;
using KubeletPS.Core.Tests.Agent;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Join;

/// <summary>End to end: a machine with nothing but a join command joins, and the agent on the written files makes the node Ready.</summary>
[Collection(KubeletAgentCollection.Name)]
public sealed class JoinAgentTests(KubeletAgentFixture fixture) : IAsyncLifetime
{
    private const string Node = "joined-node";
    private const string ClusterKubeletConfig = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nclusterDomain: cluster.local\nmaxPods: 37\n";
    private TestApiServer _server = null!;
    private string _dir = null!;
    private readonly ListLog _log = new();

    public async Task InitializeAsync()
    {
        _server = await TestApiServer.StartAsync(new TestApiServerOptions { KubeletConfiguration = ClusterKubeletConfig });
        _dir = Directory.CreateTempSubdirectory("kubeletps-joinagent-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, true);
    }

    [Fact]
    public async Task A_node_joined_with_a_fresh_token_runs_the_agent_on_the_written_files_and_becomes_Ready()
    {
        var token = BootstrapTokenString.Parse(_server.CreateBootstrapToken());
        var cluster = await new ClusterInfoDiscovery().DiscoverAsync(new ClusterInfoDiscoveryOptions
        {
            ApiServerEndpoint = $"127.0.0.1:{_server.Port}", Token = token, CACertHashes = [_server.CaCertHash],
            Timeout = TimeSpan.FromSeconds(30), RetryInterval = TimeSpan.FromMilliseconds(200),
        }, null, CancellationToken.None);
        var joined = await new NodeJoin().JoinAsync(cluster, token, new NodeJoinOptions
        {
            NodeName = Node,
            KubeconfigPath = Path.Combine(_dir, "etc", "kubelet.conf"),
            ConfigPath = Path.Combine(_dir, "var", "config.yaml"),
            CertificateDirectory = Path.Combine(_dir, "var", "pki"),
            TlsBootstrapTimeout = TimeSpan.FromSeconds(30),
        }, null, CancellationToken.None);

        var agent = await KubeletAgent.CreateAsync(new KubeletAgentRequest
        {
            Node = new NodeAgentRequest
            {
                KubeconfigPath = joined.KubeconfigPath,
                ConfigPath = joined.ConfigPath,
                NodeName = Node,
                NodeIp = "10.20.30.41",
                RuntimeEndpoint = fixture.Containerd.Endpoint,
                RootDirectory = Path.Combine(_dir, "root"),
            },
            PodLogDirectory = fixture.Containerd.PodLogsDir,
            StaticPodPath = "",
        }, _log, CancellationToken.None);
        using var stop = new CancellationTokenSource();
        var run = agent.RunAsync(null, null, stop.Token);
        try
        {
            string? Ready() => (string?)_server.Store.Get("nodes", null, Node)?["status"]?["conditions"]?.AsArray()
                .SingleOrDefault(c => (string?)c?["type"] == "Ready")?["status"];
            await TestApiClients.WaitUntilAsync(() => Ready() == "True", "the joined node is Ready", 90);
            var node = _server.Store.Get("nodes", null, Node)!;
            // The agent runs on the cluster's kubelet configuration that joining wrote, with the node's bootstrapped identity.
            Assert.Equal("37", (string?)node["status"]!["capacity"]!["pods"]);
            Assert.Contains(_server.RequestLog.Entries, e => e.User == "system:node:" + Node && e.Resource == "nodes" && e.Verb == "create");
            Assert.DoesNotContain(_server.RequestLog.Entries, e => e.User.StartsWith("system:bootstrap:", StringComparison.Ordinal) && e.Resource.StartsWith("nodes", StringComparison.Ordinal) && e.Verb != "get");
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException || e.Message.StartsWith("Timed out", StringComparison.Ordinal))
        {
            throw new Exception($"{e.Message}\nagent log:\n{string.Join("\n", _log.Lines.TakeLast(40))}", e);
        }
        finally
        {
            await stop.CancelAsync();
            try
            {
                await run.WaitAsync(TimeSpan.FromMinutes(2));
            }
            catch (OperationCanceledException)
            {
                // Stopped while it was still registering: the failure above is what the test reports.
            }
            await agent.DisposeAsync();
        }
    }
}
