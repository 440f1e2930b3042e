using System.Text.Json.Nodes;
using k8s;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Runtime;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>A private containerd for the full-agent tests alone (the agent's housekeeping removes pods it does not know).</summary>
public sealed class KubeletAgentFixture : IAsyncLifetime
{
    public PrivateContainerd Containerd { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Containerd = await PrivateContainerd.StartAsync(Path.Combine("/tmp", "kpa-" + Guid.NewGuid().ToString("N")[..8]),
            new PrivateContainerdOptions { DeleteBaseDirectoryOnDispose = true });

    public async Task DisposeAsync() => await Containerd.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class KubeletAgentCollection : ICollectionFixture<KubeletAgentFixture>
{
    public const string Name = "Full agent on a private containerd";
}

[Collection(KubeletAgentCollection.Name)]
public sealed class KubeletAgentTests(KubeletAgentFixture fixture) : IAsyncLifetime
{
    private const string Node = "agent-node";
    private TestApiServer _server = null!;
    private string _dir = null!;
    private readonly ListLog _log = new();

    public async Task InitializeAsync()
    {
        _server = await TestApiServer.StartAsync(new TestApiServerOptions { BookmarkInterval = TimeSpan.FromSeconds(1) });
        _dir = Directory.CreateTempSubdirectory("kubeletps-agent-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, true);
    }

    private async Task<(KubeletAgent Agent, Task Run, CancellationTokenSource Stop)> StartAgentAsync(string? staticPods = null)
    {
        var kubeconfig = Path.Combine(_dir, "kubelet.conf");
        _server.WriteNodeKubeconfig(kubeconfig, Node);
        var config = Path.Combine(_dir, "config.yaml");
        File.WriteAllText(config, "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nclusterDomain: cluster.local\n");
        var agent = await KubeletAgent.CreateAsync(new KubeletAgentRequest
        {
            Node = new NodeAgentRequest
            {
                KubeconfigPath = kubeconfig,
                ConfigPath = config,
                NodeName = Node,
                NodeIp = "10.20.30.40",
                RuntimeEndpoint = fixture.Containerd.Endpoint,
                RootDirectory = Path.Combine(_dir, "root"),
            },
            PodLogDirectory = fixture.Containerd.PodLogsDir,
            StaticPodPath = staticPods ?? "",
            StopPodsOnExit = true,
        }, _log, CancellationToken.None);
        var stop = new CancellationTokenSource();
        var run = agent.RunAsync(null, null, stop.Token);
        return (agent, run, stop);
    }

    private static async Task StopAsync((KubeletAgent Agent, Task Run, CancellationTokenSource Stop) agent)
    {
        await agent.Stop.CancelAsync();
        await agent.Run.WaitAsync(TimeSpan.FromMinutes(2));
        await agent.Agent.DisposeAsync();
        agent.Stop.Dispose();
    }

    private static JsonObject Pod(string name, string memoryRequest = "16Mi") => JsonNode.Parse("""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME","namespace":"default"},
         "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":5,"containers":[{"name":"main","image":"kubeletps.local/busybox:latest",
           "imagePullPolicy":"IfNotPresent","command":["sh","-c","trap 'exit 0' TERM; while true; do sleep 1; done"],
           "resources":{"requests":{"memory":"MEMORY","cpu":"10m"}}}]}}
        """.Replace("NAME", name).Replace("NODE", Node).Replace("MEMORY", memoryRequest))!.AsObject();

    private string Phase(string name) => (string?)_server.Store.Get("pods", "default", name)?["status"]?["phase"] ?? "";

    [Fact]
    public async Task A_pod_created_in_the_API_runs_reports_Running_with_its_IP_and_is_removed_when_deleted()
    {
        var agent = await StartAgentAsync();
        try
        {
            await TestApiClients.WaitUntilAsync(() => _server.Store.Get("nodes", null, Node) is not null, "the node registered", 60);
            _server.Store.Create("pods", Pod("web"));
            await TestApiClients.WaitUntilAsync(() => Phase("web") == "Running", "the pod is Running in the API", 90);
            var status = _server.Store.Get("pods", "default", "web")!["status"]!;
            Assert.StartsWith("10.231.", (string?)status["podIP"]);
            Assert.Equal("10.20.30.40", (string?)status["hostIP"]);
            var container = status["containerStatuses"]![0]!;
            Assert.Equal("main", (string?)container["name"]);
            Assert.NotNull(container["state"]!["running"]);
            Assert.StartsWith("containerd://", (string?)container["containerID"]);

            // kubectl delete: graceful, then gone once the agent has stopped the containers.
            var (admin, _) = TestApiClients.ForAdmin(_server);
            await admin.CoreV1.DeleteNamespacedPodAsync("web", "default");
            Assert.NotNull(_server.Store.Get("pods", "default", "web")!["metadata"]!["deletionTimestamp"]);
            await TestApiClients.WaitUntilAsync(() => _server.Store.Get("pods", "default", "web") is null, "the pod is gone from the API", 60);
            await TestApiClients.WaitUntilAsync(async () => (await fixture.Containerd.CreateClient().ListContainersAsync())
                .All(c => c.Labels.GetValueOrDefault("io.kubernetes.pod.name") != "web"), "the containers are removed", 30);
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException || e.Message.StartsWith("Timed out", StringComparison.Ordinal))
        {
            throw new Exception($"{e.Message}\nagent log:\n{string.Join("\n", _log.Lines.Where(l => !l.StartsWith("Debug", StringComparison.Ordinal) || l.Contains("pod", StringComparison.Ordinal)).TakeLast(60))}", e);
        }
        finally
        {
            await StopAsync(agent);
        }
    }

    [Fact]
    public async Task A_pod_too_large_for_the_node_is_rejected_with_OutOfmemory_and_a_static_pod_gets_a_mirror_pod()
    {
        var manifests = Path.Combine(_dir, "manifests");
        Directory.CreateDirectory(manifests);
        File.WriteAllText(Path.Combine(manifests, "static.yaml"), """
            apiVersion: v1
            kind: Pod
            metadata:
              name: static-web
            spec:
              containers:
              - name: main
                image: kubeletps.local/busybox:latest
                imagePullPolicy: IfNotPresent
                command: ["sleep", "3600"]
            """);
        var agent = await StartAgentAsync(manifests);
        try
        {
            await TestApiClients.WaitUntilAsync(() => _server.Store.Get("nodes", null, Node) is not null, "the node registered", 60);
            _server.Store.Create("pods", Pod("huge", memoryRequest: "100Ti"));
            await TestApiClients.WaitUntilAsync(() => Phase("huge") == "Failed", "the pod is rejected", 60);
            var status = _server.Store.Get("pods", "default", "huge")!["status"]!;
            Assert.Equal("OutOfmemory", (string?)status["reason"]);
            Assert.Contains("Node didn't have enough resource: memory", (string?)status["message"]);

            var mirrorName = $"static-web-{Node}";
            await TestApiClients.WaitUntilAsync(() => Phase(mirrorName) == "Running", "the mirror pod shows the static pod Running", 90);
            var mirror = _server.Store.Get("pods", "default", mirrorName)!;
            Assert.NotNull(mirror["metadata"]!["annotations"]!["kubernetes.io/config.mirror"]);
            Assert.Equal("Node", (string?)mirror["metadata"]!["ownerReferences"]![0]!["kind"]);
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException || e.Message.StartsWith("Timed out", StringComparison.Ordinal))
        {
            throw new Exception($"{e.Message}\nagent log:\n{string.Join("\n", _log.Lines.Where(l => !l.StartsWith("Debug", StringComparison.Ordinal) || l.Contains("pod", StringComparison.Ordinal)).TakeLast(60))}", e);
        }
        finally
        {
            await StopAsync(agent);
        }
    }
}
