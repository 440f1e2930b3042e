using KubeletPS.Core.Agent;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>
/// An agent that starts warns once about each config field it does not act on, with file and line,
/// and not again while it runs. No runtime is needed: the node registers NotReady without one.
/// </summary>
public sealed class AgentStartWarningTests : IAsyncLifetime
{
    private const string Node = "warn-node";
    private const string NotInEffect = "is set but not in effect";
    private TestApiServer _server = null!;
    private string _dir = null!;
    private readonly ListLog _log = new();

    public async Task InitializeAsync()
    {
        _server = await TestApiServer.StartAsync();
        _dir = Directory.CreateTempSubdirectory("kubeletps-warn-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, true);
    }

    /// <summary>A config with one field not in effect (line 4) among fields in effect; the lease renews every second.</summary>
    private NodeAgentRequest Request()
    {
        var kubeconfig = Path.Combine(_dir, "kubelet.conf");
        _server.WriteNodeKubeconfig(kubeconfig, Node);
        var config = Path.Combine(_dir, "config.yaml");
        File.WriteAllText(config, "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n" +
            "nodeLeaseDurationSeconds: 4\nreadOnlyPort: 10255\nclusterDomain: cluster.local\n");
        return new NodeAgentRequest
        {
            KubeconfigPath = kubeconfig,
            ConfigPath = config,
            NodeName = Node,
            NodeIp = "10.20.30.41",
            RuntimeEndpoint = "unix://" + Path.Combine(_dir, "no-runtime.sock"),
            RootDirectory = Path.Combine(_dir, "root"),
        };
    }

    private IReadOnlyList<string> Warnings() => _log.Lines.Where(l => l.Contains(NotInEffect, StringComparison.Ordinal)).ToList();

    [Fact]
    public async Task The_heartbeat_warns_once_at_start_and_not_per_renewal()
    {
        await using var context = await NodeAgentContext.CreateAsync(Request(), _log, CancellationToken.None);
        Assert.Empty(Warnings()); // composing the context is not a start (Get-KubeletNode, -WhatIf use it too)
        using var stop = new CancellationTokenSource();
        var run = context.RunHeartbeatAsync(null, null, _log, stop.Token);
        try
        {
            // The lease is renewed once right after it is created, then every second.
            await TestApiClients.WaitUntilAsync(() => _log.Lines.Count(l => l.StartsWith("Info: Renewed lease", StringComparison.Ordinal)) >= 4 || run.IsCompleted,
                "four lease renewals");
            Assert.False(run.IsCompleted, "the heartbeat stopped:\n" + string.Join("\n", _log.Lines));
        }
        finally
        {
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }
        var warning = Assert.Single(Warnings());
        Assert.Equal($"Warning: {Path.Combine(_dir, "config.yaml")}:4:1: readOnlyPort {NotInEffect}: " +
            KubeletConfigurationSupport.Reason("readOnlyPort"), warning);
    }

    [Fact]
    public async Task The_full_agent_warns_once_at_start_and_not_per_sync()
    {
        await using var agent = await KubeletAgent.CreateAsync(new KubeletAgentRequest
        {
            Node = Request(),
            StaticPodPath = "",
            // A free port: other agents (and kubelets) on this machine may hold 10250 and 10248.
            ServerPort = 0,
            HealthzPort = -1,
            PodLogDirectory = Path.Combine(_dir, "logs"),
        }, _log, CancellationToken.None);
        using var stop = new CancellationTokenSource();
        var run = agent.RunAsync(null, null, stop.Token);
        try
        {
            // Registered, then the pod half retries the runtime it cannot reach: the agent keeps running.
            await TestApiClients.WaitUntilAsync(() => _log.Lines.Count(l => l.Contains("cannot reach the container runtime", StringComparison.Ordinal)) >= 2 || run.IsCompleted,
                "two runtime retries");
            Assert.False(run.IsCompleted, "the agent stopped:\n" + string.Join("\n", _log.Lines));
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }
        var warning = Assert.Single(Warnings());
        Assert.Contains("config.yaml:4:1: readOnlyPort is set but not in effect", warning);
    }
}
