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

    /// <summary>The node IP the agent is started with (the API pods' hostIP).</summary>
    public const string NodeIp = "10.20.30.41";

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
    public string BootstrapKubeconfigPath => Path.Combine(Directory, "bootstrap-kubelet.conf");
    public string CertificateDirectory => Path.Combine(Directory, "pki");

    /// <summary>The cluster CA in this folder, written on first use (authentication.x509.clientCAFile as kubeadm sets it).</summary>
    public string ClusterCaPath
    {
        get
        {
            var path = Path.Combine(Directory, "ca.crt");
            if (!File.Exists(path)) File.WriteAllText(path, Server.CaPem);
            return path;
        }
    }

    /// <summary>kubectl with the cluster admin's kubeconfig (written on first use) and this folder as its home.</summary>
    public TestKubectl AdminKubectl => LazyInitializer.EnsureInitialized(ref _adminKubectl, () =>
    {
        var path = Path.Combine(Directory, "admin.conf");
        Server.WriteAdminKubeconfig(path);
        return new TestKubectl(path, Directory);
    });

    private TestKubectl? _adminKubectl;

    /// <summary>
    /// Starts the test API server (<paramref name="options"/>, or a bookmark every second) and makes the folder (named
    /// <paramref name="prefix"/>…) for node <paramref name="node"/>.
    /// </summary>
    public static async Task<ApiAgentHarness> StartAsync(string node, string prefix, TestApiServerOptions? options = null)
    {
        var server = await TestApiServer.StartAsync(options ?? new TestApiServerOptions { BookmarkInterval = TimeSpan.FromSeconds(1) });
        return new ApiAgentHarness(server, System.IO.Directory.CreateTempSubdirectory(prefix).FullName, node);
    }

    /// <summary>
    /// The node half of the request: this folder's kubeconfig, config.yaml and root, node IP <see cref="NodeIp"/>, and with
    /// <paramref name="bootstrap"/> the bootstrap kubeconfig and the certificate directory (kubelet's TLS bootstrap).
    /// </summary>
    public NodeAgentRequest NodeRequest(string runtimeEndpoint, bool bootstrap = false)
    {
        var request = new NodeAgentRequest
        {
            KubeconfigPath = KubeconfigPath,
            ConfigPath = ConfigPath,
            NodeName = Node,
            NodeIp = NodeIp,
            RuntimeEndpoint = runtimeEndpoint,
            RootDirectory = Root,
        };
        return bootstrap ? request with { BootstrapKubeconfigPath = BootstrapKubeconfigPath, CertificateDirectory = CertificateDirectory } : request;
    }

    /// <summary>
    /// The request the tests start the agent with: <see cref="NodeRequest"/>, no static pods, free ports (other agents and
    /// kubelets on this machine may hold 10250 and 10248), pods stopped on exit.
    /// </summary>
    public KubeletAgentRequest Request(PrivateContainerd containerd, bool bootstrap = false) => new()
    {
        Node = NodeRequest(containerd.Endpoint, bootstrap),
        PodLogDirectory = containerd.PodLogsDir,
        StaticPodPath = "",
        ServerPort = 0,
        HealthzPort = -1,
        StopPodsOnExit = true,
    };

    /// <summary>
    /// Writes config.yaml (<see cref="BaseConfig"/> and <paramref name="config"/>) and either the node's kubeconfig with a
    /// client certificate or, with <paramref name="bootstrap"/>, only a bootstrap kubeconfig holding a fresh bootstrap token.
    /// </summary>
    public void WriteNodeFiles(string config = "", bool bootstrap = false)
    {
        if (bootstrap) Server.WriteBootstrapKubeconfig(BootstrapKubeconfigPath, Server.CreateBootstrapToken());
        else Server.WriteNodeKubeconfig(KubeconfigPath, Node);
        File.WriteAllText(ConfigPath, BaseConfig + config);
    }

    /// <summary>Writes the node's files (<see cref="WriteNodeFiles"/>) and creates the agent, not yet running.</summary>
    public async Task<KubeletAgent> CreateAgentAsync(PrivateContainerd containerd, string config = "", Func<KubeletAgentRequest, KubeletAgentRequest>? configure = null,
        bool bootstrap = false)
    {
        WriteNodeFiles(config, bootstrap);
        var request = Request(containerd, bootstrap);
        request = configure?.Invoke(request) ?? request;
        return await KubeletAgent.CreateAsync(request, Log, CancellationToken.None);
    }

    /// <summary>Creates the agent (<see cref="CreateAgentAsync"/>) and runs it.</summary>
    public async Task<RunningAgent> StartAgentAsync(PrivateContainerd containerd, string config = "", Func<KubeletAgentRequest, KubeletAgentRequest>? configure = null,
        bool bootstrap = false) =>
        RunningAgent.Start(await CreateAgentAsync(containerd, config, configure, bootstrap), Log);

    /// <summary>Runs <paramref name="body"/> with the agent running (once its node registered, unless not asked to wait), then stops it.</summary>
    public async Task RunAgentAsync(PrivateContainerd containerd, Func<Task> body, string config = "", bool waitForNode = true,
        Func<KubeletAgentRequest, KubeletAgentRequest>? configure = null)
    {
        await using var agent = await StartAgentAsync(containerd, config, configure);
        await agent.RunAsync(async () =>
        {
            if (waitForNode) await WaitForNodeAsync();
            await body();
        });
    }

    public Task WaitForNodeAsync() => TestApiClients.WaitUntilAsync(() => NodeObject() is not null, "the node registered", 60);

    public JsonObject? Pod(string name, string ns = "default") => Server.Store.Get("pods", ns, name);

    public string Phase(string name) => (string?)Pod(name)?["status"]?["phase"] ?? "";

    public JsonNode? Status(string name) => Pod(name)?["status"];

    /// <summary>The pod's first container status as the API shows it.</summary>
    public JsonNode? ContainerStatus(string name) => Status(name)?["containerStatuses"]?[0];

    /// <summary>The ID of the pod's first container in the runtime (its containerID without "containerd://").</summary>
    public string ContainerId(string name) => ((string)ContainerStatus(name)!["containerID"]!)["containerd://".Length..];

    public JsonObject? NodeObject() => Server.Store.Get("nodes", null, Node);

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
    public Task RunAsync(Func<Task> body) => RunAsync(async () =>
    {
        await body();
        return true;
    });

    /// <inheritdoc cref="RunAsync(Func{Task})"/>
    public async Task<T> RunAsync<T>(Func<Task<T>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException || e.Message.StartsWith("Timed out", StringComparison.Ordinal))
        {
            throw new Exception($"{e.Message}\nagent log:\n{string.Join("\n", _log.Lines.Where(l => !l.StartsWith("Debug", StringComparison.Ordinal) || l.Contains("pod", StringComparison.Ordinal)).TakeLast(60))}", e);
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
