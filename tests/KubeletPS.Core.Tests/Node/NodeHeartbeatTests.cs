using System.Diagnostics;
using System.Text.Json.Nodes;
using KubeletPS.Core.Api;
using KubeletPS.Core.Node;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Node;

public sealed class NodeHeartbeatTests : IAsyncLifetime
{
    private TestApiServer _server = null!;

    public async Task InitializeAsync() => _server = await TestApiServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static NodeAgentOptions Options(string name, int leaseSeconds = 40) => new()
    {
        NodeName = name,
        NodeIp = "10.1.2.3",
        NodeLeaseDurationSeconds = leaseSeconds,
        NodeStatusUpdateFrequency = TimeSpan.FromMilliseconds(200),
        NodeStatusReportFrequency = TimeSpan.FromMinutes(5),
        RootDirectory = Path.GetTempPath(),
    };

    private NodeHeartbeat Heartbeat(string name, IRuntimeHealthSource runtime, int leaseSeconds = 40, IKubeletLog? log = null)
    {
        var (client, identity) = TestApiClients.ForNode(_server, name);
        return new NodeHeartbeat(client, identity, Options(name, leaseSeconds), runtime, log: log);
    }

    [Fact]
    public async Task Registers_a_new_node_with_labels_capacity_info_and_ready_condition()
    {
        var heartbeat = Heartbeat("node-a", new SettableRuntimeHealth());
        var result = await heartbeat.RegisterWithRetryAsync(CancellationToken.None);
        Assert.True(result.Created);

        var node = _server.Store.Get("nodes", null, "node-a")!;
        var labels = node["metadata"]!["labels"]!.AsObject();
        Assert.Equal("node-a", (string?)labels["kubernetes.io/hostname"]);
        Assert.Equal("linux", (string?)labels["kubernetes.io/os"]);
        var status = node["status"]!;
        var machine = new MachineInfoReader().Read();
        Assert.Equal(machine.CpuCount.ToString(), (string?)status["capacity"]!["cpu"]);
        Assert.Equal($"{machine.MemoryCapacityBytes / 1024}Ki", (string?)status["capacity"]!["memory"]);
        Assert.Equal("110", (string?)status["allocatable"]!["pods"]);
        Assert.Equal("containerd://1.6.20", (string?)status["nodeInfo"]!["containerRuntimeVersion"]);
        Assert.Equal(machine.BootId, (string?)status["nodeInfo"]!["bootID"]);
        Assert.Equal(10250, (int?)status["daemonEndpoints"]!["kubeletEndpoint"]!["Port"]); // the API spells it "Port"
        var ready = status["conditions"]!.AsArray().Single(c => (string?)c!["type"] == "Ready")!;
        Assert.Equal(("True", "KubeletReady"), ((string?)ready["status"], (string?)ready["reason"]));
        Assert.Contains(status["addresses"]!.AsArray(), a => (string?)a!["type"] == "InternalIP" && (string?)a["address"] == "10.1.2.3");
    }

    [Fact]
    public async Task Reconciles_an_existing_node_without_clobbering_admin_labels_or_taints()
    {
        _server.Store.Create("nodes", JsonNode.Parse("""
            {"apiVersion":"v1","kind":"Node","metadata":{"name":"node-b","labels":{"team":"blue","kubernetes.io/arch":"wrong"},
             "annotations":{"owner":"ops"}},
             "spec":{"taints":[{"key":"maintenance","value":"true","effect":"NoSchedule"}]}}
            """)!.AsObject());
        var result = await Heartbeat("node-b", new SettableRuntimeHealth()).RegisterWithRetryAsync(CancellationToken.None);
        Assert.False(result.Created);
        Assert.Contains(result.Changes, c => c.Contains("kubernetes.io/arch"));

        var node = _server.Store.Get("nodes", null, "node-b")!;
        Assert.Equal("blue", (string?)node["metadata"]!["labels"]!["team"]);
        Assert.Equal(MachineInfoReader.GoArchitecture(System.Runtime.InteropServices.RuntimeInformation.OSArchitecture), (string?)node["metadata"]!["labels"]!["kubernetes.io/arch"]);
        Assert.Equal("ops", (string?)node["metadata"]!["annotations"]!["owner"]);
        Assert.Equal("maintenance", (string?)node["spec"]!["taints"]![0]!["key"]);
        Assert.NotNull(node["status"]!["capacity"]);
    }

    [Fact]
    public async Task Plan_describes_the_change_and_writes_nothing()
    {
        var (client, identity) = TestApiClients.ForNode(_server, "node-p");
        var builder = new NodeStatusBuilder(Options("node-p"));
        var plan = await new NodeRegistration(client, identity, builder, NullKubeletLog.Instance)
            .PlanAsync(new MachineInfoReader().Read(), new SettableRuntimeHealth().Health, DateTime.UtcNow, CancellationToken.None);
        Assert.True(plan.Created);
        Assert.Contains("create Node node-p", plan.Changes[0]);
        Assert.Null(_server.Store.Get("nodes", null, "node-p"));
        Assert.Equal(0, _server.RequestLog.Count("create"));
    }

    [Fact]
    public async Task A_certificate_for_another_node_is_refused_with_a_clear_error()
    {
        var (client, identity) = TestApiClients.ForNode(_server, "node-other");
        var builder = new NodeStatusBuilder(Options("node-c"));
        var registration = new NodeRegistration(client, identity, builder, NullKubeletLog.Instance);
        var e = await Assert.ThrowsAsync<KubeletApiException>(() =>
            registration.RegisterAsync(new MachineInfoReader().Read(), new SettableRuntimeHealth().Health, DateTime.UtcNow, CancellationToken.None));
        Assert.Equal(KubeletErrorKind.PermissionDenied, e.Category);
        Assert.Contains("system:node:node-other may not create nodes \"node-c\"", e.Message);
        Assert.Contains("403", e.Message);
    }

    [Fact]
    public async Task Lease_is_created_owned_by_the_node_and_renewed()
    {
        var heartbeat = Heartbeat("node-d", new SettableRuntimeHealth(), leaseSeconds: 2);
        Assert.Equal(TimeSpan.FromMilliseconds(500), heartbeat.Lease.RenewInterval);
        using var cts = new CancellationTokenSource();
        var run = heartbeat.RunAsync(cts.Token);
        var renewTimes = new HashSet<string>();
        await TestApiClients.WaitUntilAsync(() =>
        {
            var lease = _server.Store.Get("leases", "kube-node-lease", "node-d");
            if (lease?["spec"]?["renewTime"] is { } t) renewTimes.Add((string)t!);
            return renewTimes.Count >= 3;
        }, "the lease was renewed three times");
        cts.Cancel();
        await run;

        var lease = _server.Store.Get("leases", "kube-node-lease", "node-d")!;
        var node = _server.Store.Get("nodes", null, "node-d")!;
        Assert.Equal("node-d", (string?)lease["spec"]!["holderIdentity"]);
        Assert.Equal(2, (int?)lease["spec"]!["leaseDurationSeconds"]);
        var owner = lease["metadata"]!["ownerReferences"]![0]!;
        Assert.Equal(("Node", "node-d"), ((string?)owner["kind"], (string?)owner["name"]));
        Assert.Equal((string?)node["metadata"]!["uid"], (string?)owner["uid"]);
    }

    [Fact]
    public async Task A_storm_of_409_conflicts_on_the_lease_is_resolved()
    {
        var log = new ListLog();
        var heartbeat = Heartbeat("node-e", new SettableRuntimeHealth(), leaseSeconds: 2, log: log);
        using var cts = new CancellationTokenSource();
        var run = heartbeat.RunAsync(cts.Token);
        await TestApiClients.WaitUntilAsync(() => heartbeat.Lease.Latest is not null, "the first renewal");
        var failure = _server.Faults.FailNext(12, 409, "/leases/", method: "PUT");
        await TestApiClients.WaitUntilAsync(() => failure.Remaining == 0, "the conflicts were all served");
        var afterStorm = _server.Store.ResourceVersion;
        await TestApiClients.WaitUntilAsync(() =>
            long.Parse((string)_server.Store.Get("leases", "kube-node-lease", "node-e")!["metadata"]!["resourceVersion"]!) > afterStorm,
            "the lease was renewed after the storm");
        cts.Cancel();
        await run;
        Assert.Contains(log.Lines, l => l.Contains("409"));
    }

    [Fact]
    public async Task The_server_down_for_a_while_and_back_the_node_keeps_heartbeating_without_a_restart()
    {
        var heartbeat = Heartbeat("node-f", new SettableRuntimeHealth(), leaseSeconds: 2);
        using var cts = new CancellationTokenSource();
        var run = heartbeat.RunAsync(cts.Token);
        await TestApiClients.WaitUntilAsync(() => heartbeat.Lease.Latest is not null, "the first renewal");

        await _server.StopListeningAsync();
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(run.IsCompleted);
        var before = _server.Store.ResourceVersion;
        await _server.ResumeListeningAsync();

        await TestApiClients.WaitUntilAsync(() =>
            long.Parse((string)_server.Store.Get("leases", "kube-node-lease", "node-f")!["metadata"]!["resourceVersion"]!) > before,
            "the lease was renewed after the server came back", timeoutSeconds: 30);
        cts.Cancel();
        await run;
    }

    [Fact]
    public async Task Registration_waits_for_an_unreachable_server_and_completes_when_it_answers()
    {
        _server.Faults.RefuseConnections();
        var retries = 0;
        var heartbeat = Heartbeat("node-g", new SettableRuntimeHealth());
        heartbeat.OnRegistrationRetry = (_, _, _) => Interlocked.Increment(ref retries);
        var register = heartbeat.RegisterWithRetryAsync(CancellationToken.None);
        await TestApiClients.WaitUntilAsync(() => Volatile.Read(ref retries) >= 2, "registration retried twice");
        Assert.False(register.IsCompleted);
        _server.Faults.AcceptConnections();
        var result = await register.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(result.Created);
    }

    [Fact]
    public async Task Status_is_patched_when_it_changes_and_not_when_it_does_not()
    {
        var runtime = new SettableRuntimeHealth();
        var heartbeat = Heartbeat("node-h", runtime);
        await heartbeat.RegisterWithRetryAsync(CancellationToken.None);
        var patchesAfterRegistration = _server.RequestLog.Count("patch", "nodes/status");

        // Nothing changed and the report period has not passed: no request.
        Assert.False(await heartbeat.Status.SyncAsync(CancellationToken.None));
        Assert.Equal(patchesAfterRegistration, _server.RequestLog.Count("patch", "nodes/status"));

        runtime.Health = runtime.Health with { NetworkReady = false, Message = "NetworkReady=false reason:NetworkPluginNotReady message:cni plugin not initialized" };
        Assert.True(await heartbeat.Status.SyncAsync(CancellationToken.None));
        var ready = _server.Store.Get("nodes", null, "node-h")!["status"]!["conditions"]!.AsArray().Single(c => (string?)c!["type"] == "Ready")!;
        Assert.Equal(("False", "KubeletNotReady"), ((string?)ready["status"], (string?)ready["reason"]));
        Assert.Contains("container runtime network not ready", (string?)ready["message"]);
        Assert.Equal(4, _server.Store.Get("nodes", null, "node-h")!["status"]!["conditions"]!.AsArray().Count);
    }

    [Fact]
    public async Task Kubectl_shows_the_registered_node()
    {
        await Heartbeat("node-k", new SettableRuntimeHealth()).RegisterWithRetryAsync(CancellationToken.None);
        var dir = Directory.CreateTempSubdirectory("kubeletps-kubectl-").FullName;
        try
        {
            var kubeconfig = Path.Combine(dir, "admin.conf");
            _server.WriteAdminKubeconfig(kubeconfig);
            var start = new ProcessStartInfo("kubectl", ["--kubeconfig", kubeconfig, "get", "node", "node-k", "-o", "json"])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            using var kubectl = Process.Start(start)!;
            var output = await kubectl.StandardOutput.ReadToEndAsync();
            var errors = await kubectl.StandardError.ReadToEndAsync();
            await kubectl.WaitForExitAsync();
            Assert.True(kubectl.ExitCode == 0, errors);
            var node = JsonNode.Parse(output)!;
            Assert.Equal("node-k", (string?)node["metadata"]!["name"]);
            Assert.Equal("True", (string?)node["status"]!["conditions"]!.AsArray().Single(c => (string?)c!["type"] == "Ready")!["status"]);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
