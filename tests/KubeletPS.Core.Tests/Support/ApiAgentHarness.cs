using System.Text.Json.Nodes;
using KubeletPS.Core.Agent;
using KubeletPS.TestCluster.Runtime;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Support;

/// <summary>
/// What the end-to-end tests of the full agent share: the test API server (a bookmark every second), a temporary folder
/// with the node's kubeconfig and config.yaml, the agent (<see cref="KubeletAgent"/>) on a private containerd started with
/// a request each test may change, waits on the API pods' phases and conditions, and a clean stop that puts the agent's
/// last log lines into the failure. One per test class instance (xunit's IAsyncLifetime creates and disposes it).
/// </summary>
internal sealed class ApiAgentHarness : IAsyncDisposable
{
    /// <summary>config.yaml before a test's own lines.</summary>
    public const string BaseConfig = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nclusterDomain: cluster.local\n";

    private ApiAgentHarness(TestApiServer server, string directory, string node)
    {
        Server = server;
        Directory = directory;
        Node = node;
    }

    public TestApiServer Server { get; }
    public string Directory { get; }
    public string Node { get; }
    public ListLog Log { get; } = new();
    public string Root => Path.Combine(Directory, "root");
    public string KubeconfigPath => Path.Combine(Directory, "kubelet.conf");
    public string ConfigPath => Path.Combine(Directory, "config.yaml");

    /// <summary>Starts the test API server and makes the folder (named <paramref name="prefix"/>…) for node <paramref name="node"/>.</summary>
    public static async Task<ApiAgentHarness> StartAsync(string node, string prefix)
    {
        var server = await TestApiServer.StartAsync(new TestApiServerOptions { BookmarkInterval = TimeSpan.FromSeconds(1) });
        return new ApiAgentHarness(server, System.IO.Directory.CreateTempSubdirectory(prefix).FullName, node);
    }

    /// <summary>
    /// The request the tests start the agent with: this folder's kubeconfig, config.yaml and root, node IP 10.20.30.41,
    /// no static pods, free ports (other agents and kubelets on this machine may hold 10250 and 10248), pods stopped on exit.
    /// </summary>
    public KubeletAgentRequest Request(PrivateContainerd containerd) => new()
    {
        Node = new NodeAgentRequest
        {
            KubeconfigPath = KubeconfigPath,
            ConfigPath = ConfigPath,
            NodeName = Node,
            NodeIp = "10.20.30.41",
            RuntimeEndpoint = containerd.Endpoint,
            RootDirectory = Root,
        },
        PodLogDirectory = containerd.PodLogsDir,
        StaticPodPath = "",
        ServerPort = 0,
        HealthzPort = -1,
        StopPodsOnExit = true,
    };

    /// <summary>Writes the node's kubeconfig and config.yaml (<see cref="BaseConfig"/> and <paramref name="config"/>), then creates and runs the agent.</summary>
    public async Task<RunningAgent> StartAgentAsync(PrivateContainerd containerd, string config = "", Func<KubeletAgentRequest, KubeletAgentRequest>? configure = null)
    {
        Server.WriteNodeKubeconfig(KubeconfigPath, Node);
        File.WriteAllText(ConfigPath, BaseConfig + config);
        var request = Request(containerd);
        request = configure?.Invoke(request) ?? request;
        return RunningAgent.Start(await KubeletAgent.CreateAsync(request, Log, CancellationToken.None), Log);
    }

    /// <summary>Runs <paramref name="body"/> with the agent running (once its node registered, unless not asked to wait), then stops it.</summary>
    public async Task RunAgentAsync(PrivateContainerd containerd, Func<Task> body, string config = "", bool waitForNode = true,
        Func<KubeletAgentRequest, KubeletAgentRequest>? configure = null)
    {
        await using var agent = await StartAgentAsync(containerd, config, configure);
        await agent.RunAsync(async () =>
        {
            if (waitForNode) await TestApiClients.WaitUntilAsync(() => Server.Store.Get("nodes", null, Node) is not null, "the node registered", 60);
            await body();
        });
    }

    public JsonObject? Pod(string name, string ns = "default") => Server.Store.Get("pods", ns, name);

    public string Phase(string name) => (string?)Pod(name)?["status"]?["phase"] ?? "";

    public JsonNode? Status(string name) => Pod(name)?["status"];

    /// <summary>Creates the pod written in <paramref name="json"/>, its "NODE" replaced by this node's name.</summary>
    public JsonObject CreatePod(string json) => Server.Store.Create("pods", JsonNode.Parse(json.Replace("NODE", Node))!.AsObject());

    public Task WaitForPhaseAsync(string name, string phase, int seconds = 90) =>
        TestApiClients.WaitUntilAsync(() => Phase(name) == phase, $"pod {name} is {phase}", seconds);

    public Task WaitForConditionAsync(string name, string type, string status = "True", int seconds = 90) =>
        TestApiClients.WaitUntilAsync(() => (Status(name)?["conditions"] as JsonArray ?? []).Any(c => (string?)c!["type"] == type && (string?)c["status"] == status),
            $"pod {name} has {type}={status}", seconds);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        System.IO.Directory.Delete(Directory, true);
    }
}

/// <summary>An agent started by <see cref="ApiAgentHarness"/>: its run, its stop (within 2 minutes), its log in a failure.</summary>
internal sealed class RunningAgent : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly ListLog _log;
    private Task _run = Task.CompletedTask;

    private RunningAgent(KubeletAgent agent, ListLog log)
    {
        Agent = agent;
        _log = log;
    }

    public KubeletAgent Agent { get; }

    public static RunningAgent Start(KubeletAgent agent, ListLog log)
    {
        var running = new RunningAgent(agent, log);
        running._run = agent.RunAsync(null, null, running._stop.Token);
        return running;
    }

    /// <summary>Runs <paramref name="body"/>; an error that is not an assertion, or a wait that timed out, carries the agent's last 60 log lines.</summary>
    public async Task RunAsync(Func<Task> body)
    {
        try
        {
            await body();
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException || e.Message.StartsWith("Timed out", StringComparison.Ordinal))
        {
            throw new Exception($"{e.Message}\nagent log:\n{string.Join("\n", _log.Lines.TakeLast(60))}", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _run.WaitAsync(TimeSpan.FromMinutes(2));
        }
        finally
        {
            await Agent.DisposeAsync();
            _stop.Dispose();
        }
    }
}
