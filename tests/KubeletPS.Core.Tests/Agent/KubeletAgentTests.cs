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

    private async Task<(KubeletAgent Agent, Task Run, CancellationTokenSource Stop)> StartAgentAsync(string? staticPods = null, bool stopPodsOnExit = true)
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
            // A free port: other agents (and kubelets) on this machine may hold 10250 and 10248.
            ServerPort = 0,
            HealthzPort = -1,
            StopPodsOnExit = stopPodsOnExit,
        }, _log, CancellationToken.None);
        var stop = new CancellationTokenSource();
        var run = agent.RunAsync(null, null, stop.Token);
        return (agent, run, stop);
    }

    /// <summary>Runs a test body against a started agent: stops it afterwards, and adds the agent's log to a failure.</summary>
    private async Task RunAgentAsync((KubeletAgent Agent, Task Run, CancellationTokenSource Stop) agent, Func<Task> body)
    {
        try
        {
            await body();
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException || e.Message.StartsWith("Timed out", StringComparison.Ordinal))
        {
            throw new Exception($"{e.Message}\nagent log:\n{AgentLog()}", e);
        }
        finally
        {
            await StopAsync(agent);
        }
    }

    private static async Task StopAsync((KubeletAgent Agent, Task Run, CancellationTokenSource Stop) agent)
    {
        await agent.Stop.CancelAsync();
        await agent.Run.WaitAsync(TimeSpan.FromMinutes(2));
        await agent.Agent.DisposeAsync();
        agent.Stop.Dispose();
    }

    private const string SleepForever = "trap 'exit 0' TERM; while true; do sleep 1; done";

    private static JsonObject Pod(string name, string memoryRequest = "16Mi", string script = SleepForever) => JsonNode.Parse("""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME","namespace":"default"},
         "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":5,"restartPolicy":"Always","containers":[{"name":"main","image":"kubeletps.local/busybox:latest",
           "imagePullPolicy":"IfNotPresent","command":["sh","-c","SCRIPT"],
           "resources":{"requests":{"memory":"MEMORY","cpu":"10m"}}}]}}
        """.Replace("NAME", name).Replace("NODE", Node).Replace("MEMORY", memoryRequest).Replace("SCRIPT", script))!.AsObject();

    private JsonNode? ContainerStatus(string pod) => _server.Store.Get("pods", "default", pod)?["status"]?["containerStatuses"]?[0];

    private string AgentLog() =>
        string.Join("\n", _log.Lines.Where(l => !l.StartsWith("Debug", StringComparison.Ordinal) || l.Contains("pod", StringComparison.Ordinal)).TakeLast(60));

    private string Phase(string name) => (string?)_server.Store.Get("pods", "default", name)?["status"]?["phase"] ?? "";

    [Fact]
    public async Task A_pod_created_in_the_API_runs_reports_Running_with_its_IP_and_is_removed_when_deleted()
    {
        await RunAgentAsync(await StartAgentAsync(), async () =>
        {
            await TestApiClients.WaitUntilAsync(() => _server.Store.Get("nodes", null, Node) is not null, "the node registered", 60);
            var images = _server.Store.Get("nodes", null, Node)!["status"]!["images"]!.AsArray();
            Assert.Contains(images, i => i!["names"]!.AsArray().Any(n => (string?)n == "kubeletps.local/busybox:latest"));
            _server.Store.Create("pods", Pod("web"));
            await TestApiClients.WaitUntilAsync(() => Phase("web") == "Running", "the pod is Running in the API", 90);
            var status = _server.Store.Get("pods", "default", "web")!["status"]!;
            Assert.StartsWith("10.231.", (string?)status["podIP"]);
            Assert.Equal("10.20.30.40", (string?)status["hostIP"]);
            var container = status["containerStatuses"]![0]!;
            Assert.Equal("main", (string?)container["name"]);
            Assert.NotNull(container["state"]!["running"]);
            Assert.StartsWith("containerd://", (string?)container["containerID"]);
            await TestApiClients.WaitUntilAsync(() => _server.Store.List("events", "default").Any(e =>
                (string?)e["reason"] == "Started" && (string?)e["involvedObject"]?["name"] == "web"
                && (string?)e["involvedObject"]?["fieldPath"] == "spec.containers{main}" && (string?)e["source"]?["host"] == Node),
                "a Started event for the container is recorded", 30);
            Assert.Contains(_server.Store.List("events", "default"), e => (string?)e["reason"] == "Pulled" && (string?)e["involvedObject"]?["name"] == "web"
                && (string?)e["message"] == "Container image \"kubeletps.local/busybox:latest\" already present on machine");

            // kubectl delete: graceful, then gone once the agent has stopped the containers.
            var (admin, _) = TestApiClients.ForAdmin(_server);
            await admin.CoreV1.DeleteNamespacedPodAsync("web", "default");
            Assert.NotNull(_server.Store.Get("pods", "default", "web")!["metadata"]!["deletionTimestamp"]);
            await TestApiClients.WaitUntilAsync(() => _server.Store.Get("pods", "default", "web") is null, "the pod is gone from the API", 60);
            Assert.Contains(_server.Store.List("events", "default"), e => (string?)e["reason"] == "Killing" && (string?)e["involvedObject"]?["name"] == "web");
            await TestApiClients.WaitUntilAsync(async () => (await fixture.Containerd.CreateClient().ListContainersAsync())
                .All(c => c.Labels.GetValueOrDefault("io.kubernetes.pod.name") != "web"), "the containers are removed", 30);
        });
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
        await RunAgentAsync(await StartAgentAsync(manifests), async () =>
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
        });
    }

    [Fact]
    public async Task API_pods_get_their_seccomp_profile_and_fsGroup_and_are_rejected_for_a_forbidden_sysctl_or_a_taken_host_port()
    {
        _server.Store.Create("configmaps", JsonNode.Parse("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"sec-config","namespace":"default"},"data":{"k":"v"}}""")!.AsObject());
        await RunAgentAsync(await StartAgentAsync(), async () =>
        {
            await TestApiClients.WaitUntilAsync(() => _server.Store.Get("nodes", null, Node) is not null, "the node registered", 60);
            var confined = Pod("confined");
            confined["spec"]!["securityContext"] = JsonNode.Parse("""{"seccompProfile":{"type":"RuntimeDefault"},"fsGroup":3000,"runAsUser":1000}""");
            confined["spec"]!["volumes"] = JsonNode.Parse("""[{"name":"cfg","configMap":{"name":"sec-config"}}]""");
            confined["spec"]!["containers"]![0]!["volumeMounts"] = JsonNode.Parse("""[{"name":"cfg","mountPath":"/etc/cfg"}]""");
            confined["spec"]!["containers"]![0]!["ports"] = JsonNode.Parse("""[{"containerPort":8080,"hostPort":18932}]""");
            _server.Store.Create("pods", confined);
            await TestApiClients.WaitUntilAsync(() => Phase("confined") == "Running", "the pod is Running", 90);
            var id = ((string)ContainerStatus("confined")!["containerID"]!)["containerd://".Length..];
            await using var runtime = fixture.Containerd.CreateClient();
            async Task<string> Run(params string[] command) => (await runtime.ExecSyncAsync(id, command, TimeSpan.FromSeconds(10))).Stdout.Trim();
            Assert.Equal("Seccomp:\t2", await Run("grep", "^Seccomp:", "/proc/self/status"));
            Assert.Contains("3000", (await Run("id", "-G")).Split(' '));
            Assert.Equal("3000 v", await Run("sh", "-c", "stat -L -c %g /etc/cfg/k | tr '\\n' ' '; cat /etc/cfg/k"));

            var sysctl = Pod("sysctl");
            sysctl["spec"]!["securityContext"] = JsonNode.Parse("""{"sysctls":[{"name":"kernel.msgmax","value":"1"}]}""");
            _server.Store.Create("pods", sysctl);
            var port = Pod("port");
            port["spec"]!["containers"]![0]!["ports"] = JsonNode.Parse("""[{"containerPort":80,"hostPort":18932}]""");
            _server.Store.Create("pods", port);
            await TestApiClients.WaitUntilAsync(() => Phase("sysctl") == "Failed" && Phase("port") == "Failed", "both pods are rejected", 60);
            var status = _server.Store.Get("pods", "default", "sysctl")!["status"]!;
            Assert.Equal("SysctlForbidden", (string?)status["reason"]);
            Assert.Equal("Pod was rejected: forbidden sysctl: \"kernel.msgmax\" not allowlisted", (string?)status["message"]);
            Assert.Equal("NodePorts", (string?)_server.Store.Get("pods", "default", "port")!["status"]!["reason"]);
        });
    }

    [Fact]
    public async Task A_crashing_container_is_restarted_and_reports_CrashLoopBackOff_in_the_API()
    {
        await RunAgentAsync(await StartAgentAsync(), async () =>
        {
            await TestApiClients.WaitUntilAsync(() => _server.Store.Get("nodes", null, Node) is not null, "the node registered", 60);
            _server.Store.Create("pods", Pod("crasher", script: "exit 1"));

            // The first restart is immediate; the back-off (10 s, then 20 s) follows, shown as waiting CrashLoopBackOff.
            await TestApiClients.WaitUntilAsync(() =>
                ContainerStatus("crasher") is { } c
                && (int?)c["restartCount"] >= 1
                && (string?)c["state"]?["waiting"]?["reason"] == "CrashLoopBackOff", "the API shows a restart and CrashLoopBackOff", 120);
            var container = ContainerStatus("crasher")!;
            Assert.Equal("main", (string?)container["name"]);
            Assert.Equal(1, (int?)container["lastState"]?["terminated"]?["exitCode"]);
            Assert.NotEqual(true, (bool?)container["ready"]);
        });
    }

    [Fact]
    public async Task A_new_agent_on_the_same_root_directory_adopts_the_running_API_pod_without_restarting_it_and_removes_one_deleted_meanwhile()
    {
        var first = await StartAgentAsync(stopPodsOnExit: false);
        string containerId;
        try
        {
            await TestApiClients.WaitUntilAsync(() => _server.Store.Get("nodes", null, Node) is not null, "the node registered", 60);
            _server.Store.Create("pods", Pod("survivor"));
            _server.Store.Create("pods", Pod("goner"));
            await TestApiClients.WaitUntilAsync(() => Phase("survivor") == "Running" && ContainerStatus("survivor")?["state"]?["running"] is not null
                && Phase("goner") == "Running", "the pods are Running in the API", 90);
            containerId = (string)ContainerStatus("survivor")!["containerID"]!;
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException || e.Message.StartsWith("Timed out", StringComparison.Ordinal))
        {
            await StopAsync(first);
            throw new Exception($"{e.Message}\nagent log:\n{AgentLog()}", e);
        }
        await StopAsync(first);
        await using var runtime = fixture.Containerd.CreateClient();
        Assert.Contains(await runtime.ListContainersAsync(), c => $"containerd://{c.Id}" == containerId && c.State == KubeletPS.Core.Runtime.ContainerState.Running);
        // While no agent runs, an administrator force-deletes one pod (kubectl delete --grace-period=0 --force).
        _server.Store.Delete("pods", "default", "goner");
        Assert.Contains(await runtime.ListContainersAsync(), c => c.Labels.GetValueOrDefault("io.kubernetes.pod.name") == "goner");

        var second = await StartAgentAsync();
        try
        {
            // Once the new agent has the pod and a few sync rounds have passed, the runtime and the API show the original container.
            await TestApiClients.WaitUntilAsync(async () =>
                (await runtime.ListContainersAsync()).Any(c => c.Labels.GetValueOrDefault("io.kubernetes.pod.name") == "survivor")
                && second.Agent.Pods?.Pods.Any(p => p.Metadata?.Name == "survivor") == true,
                "the new agent knows the pod", 60);
            await Task.Delay(TimeSpan.FromSeconds(3));
            Assert.Equal("Running", Phase("survivor"));
            var container = ContainerStatus("survivor")!;
            Assert.Equal(containerId, (string?)container["containerID"]);
            Assert.Equal(0, (int?)container["restartCount"]);
            Assert.NotNull(container["state"]!["running"]);
            var survivors = (await runtime.ListContainersAsync()).Where(c => c.Labels.GetValueOrDefault("io.kubernetes.pod.name") == "survivor").ToList();
            Assert.Equal([containerId], survivors.Select(c => $"containerd://{c.Id}"));
            // The pod deleted while the agent was down is killed and removed on start.
            await TestApiClients.WaitUntilAsync(async () => !(await runtime.ListContainersAsync()).Any(c => c.Labels.GetValueOrDefault("io.kubernetes.pod.name") == "goner")
                && !(await runtime.ListPodSandboxesAsync()).Any(p => p.Labels.GetValueOrDefault("io.kubernetes.pod.name") == "goner"),
                "the deleted pod's containers and sandbox are removed", 60);
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException || e.Message.StartsWith("Timed out", StringComparison.Ordinal))
        {
            throw new Exception($"{e.Message}\nagent log:\n{AgentLog()}", e);
        }
        finally
        {
            await StopAsync(second);
        }
    }

    [Fact]
    public async Task With_the_API_server_away_for_30_s_pods_keep_running_and_their_status_catches_up()
    {
        await RunAgentAsync(await StartAgentAsync(), async () =>
        {
            await TestApiClients.WaitUntilAsync(() => _server.Store.Get("nodes", null, Node) is not null, "the node registered", 60);
            _server.Store.Create("pods", Pod("steady"));
            // Exits every few seconds: it restarts while the API server is away, so there is news to report.
            _server.Store.Create("pods", Pod("flappy", script: "sleep 4; exit 1"));
            await TestApiClients.WaitUntilAsync(() => Phase("steady") == "Running" && Phase("flappy") == "Running", "both pods are Running", 90);
            await TestApiClients.WaitUntilAsync(() => (string?)ContainerStatus("steady")?["containerID"] is not null, "the steady container is reported", 30);
            var steadyId = (string?)ContainerStatus("steady")!["containerID"];
            var flappyRestartsBefore = (int?)ContainerStatus("flappy")?["restartCount"] ?? 0;

            await _server.StopListeningAsync();
            await Task.Delay(TimeSpan.FromSeconds(30));
            await using (var runtime = fixture.Containerd.CreateClient())
            {
                // Away from the API server, the node keeps its pods.
                Assert.Contains(await runtime.ListContainersAsync(), c => $"containerd://{c.Id}" == steadyId && c.State == KubeletPS.Core.Runtime.ContainerState.Running);
            }
            await _server.ResumeListeningAsync();

            await TestApiClients.WaitUntilAsync(() => ((int?)ContainerStatus("flappy")?["restartCount"] ?? 0) > flappyRestartsBefore,
                "the restarts during the outage reach the API", 60);
            var steady = ContainerStatus("steady")!;
            Assert.Equal(steadyId, (string?)steady["containerID"]);
            Assert.Equal(0, (int?)steady["restartCount"]);
            Assert.Equal("Running", Phase("steady"));
            // The watch resumed: a pod created now runs without the agent being restarted.
            _server.Store.Create("pods", Pod("after"));
            await TestApiClients.WaitUntilAsync(() => Phase("after") == "Running", "a pod created after the outage runs", 90);
        });
    }

    [Fact]
    public async Task Fifty_pods_created_at_once_all_reach_Running()
    {
        await RunAgentAsync(await StartAgentAsync(), async () =>
        {
            await TestApiClients.WaitUntilAsync(() => _server.Store.Get("nodes", null, Node) is not null, "the node registered", 60);
            var names = Enumerable.Range(1, 50).Select(i => $"many-{i:00}").ToList();
            foreach (var name in names) _server.Store.Create("pods", Pod(name, memoryRequest: "8Mi"));
            await TestApiClients.WaitUntilAsync(() => names.All(n => Phase(n) == "Running"),
                "all 50 pods are Running", 300);
            Assert.All(names, n => Assert.StartsWith("10.231.", (string?)_server.Store.Get("pods", "default", n)!["status"]!["podIP"]));
            Assert.Equal(50, names.Select(n => (string?)_server.Store.Get("pods", "default", n)!["status"]!["podIP"]).Distinct().Count());
        });
    }

    [Fact]
    public async Task ConfigMap_secret_and_downward_API_volumes_and_env_are_filled_from_the_API()
    {
        _server.Store.Create("configmaps", JsonNode.Parse("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"app-config","namespace":"default"},"data":{"greeting":"hello","color":"blue"}}""")!.AsObject());
        _server.Store.Create("secrets", JsonNode.Parse("""{"apiVersion":"v1","kind":"Secret","metadata":{"name":"app-secret","namespace":"default"},"data":{"password":"PASSWORD"}}"""
            .Replace("PASSWORD", Convert.ToBase64String("s3cret"u8.ToArray())))!.AsObject());
        await RunAgentAsync(await StartAgentAsync(), async () =>
        {
            await TestApiClients.WaitUntilAsync(() => _server.Store.Get("nodes", null, Node) is not null, "the node registered", 60);
            _server.Store.Create("pods", JsonNode.Parse("""
                {"apiVersion":"v1","kind":"Pod","metadata":{"name":"configured","namespace":"default","labels":{"app":"configured"}},
                 "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":2,"containers":[{"name":"main","image":"kubeletps.local/busybox:latest",
                   "imagePullPolicy":"IfNotPresent","command":["sleep","3600"],
                   "env":[{"name":"GREETING","valueFrom":{"configMapKeyRef":{"name":"app-config","key":"greeting"}}},
                          {"name":"PASSWORD","valueFrom":{"secretKeyRef":{"name":"app-secret","key":"password"}}},
                          {"name":"MISSING","valueFrom":{"configMapKeyRef":{"name":"nope","key":"x","optional":true}}}],
                   "envFrom":[{"prefix":"CFG_","configMapRef":{"name":"app-config"}}],
                   "volumeMounts":[{"name":"cfg","mountPath":"/etc/cfg"},{"name":"sec","mountPath":"/etc/sec"},{"name":"info","mountPath":"/etc/info"}]}],
                  "volumes":[{"name":"cfg","configMap":{"name":"app-config","items":[{"key":"greeting","path":"greeting.txt"}]}},
                             {"name":"sec","secret":{"secretName":"app-secret","defaultMode":256}},
                             {"name":"info","downwardAPI":{"items":[{"path":"name","fieldRef":{"fieldPath":"metadata.name"}},{"path":"labels","fieldRef":{"fieldPath":"metadata.labels"}}]}}]}}
                """.Replace("NODE", Node))!.AsObject());
            await TestApiClients.WaitUntilAsync(() => Phase("configured") == "Running", "the pod is Running", 90);
            var id = ((string)ContainerStatus("configured")!["containerID"]!)["containerd://".Length..];
            await using var runtime = fixture.Containerd.CreateClient();
            async Task<string> Run(params string[] command) => (await runtime.ExecSyncAsync(id, command, TimeSpan.FromSeconds(10))).Stdout.Trim();
            Assert.Equal("hello", await Run("cat", "/etc/cfg/greeting.txt"));
            Assert.Equal("s3cret", await Run("cat", "/etc/sec/password"));
            Assert.Equal("configured", await Run("cat", "/etc/info/name"));
            Assert.Equal("app=\"configured\"", await Run("cat", "/etc/info/labels"));
            var env = await Run("env");
            Assert.Contains("GREETING=hello", env);
            Assert.Contains("PASSWORD=s3cret", env);
            Assert.Contains("CFG_color=blue", env);
            Assert.DoesNotContain("MISSING=", env);
            // The real file, in the atomic writer's timestamped directory (the visible name links to it).
            var secretFile = Directory.EnumerateFiles(Path.Combine(_dir, "root", "pods"), "password", SearchOption.AllDirectories)
                .Single(f => new FileInfo(f).LinkTarget is null && !f.Contains("/..data/", StringComparison.Ordinal));
            if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead, File.GetUnixFileMode(secretFile));
        });
    }

    /// <summary>The projected volume the API server's ServiceAccount admission adds (this test server does not add it).</summary>
    private static string KubeApiAccessPod(string name, string serviceAccount) => """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME","namespace":"default"},
         "spec":{"nodeName":"NODE","serviceAccountName":"SA","terminationGracePeriodSeconds":2,"containers":[{"name":"main","image":"kubeletps.local/busybox:latest",
           "imagePullPolicy":"IfNotPresent","command":["sleep","3600"],"resources":{"requests":{"memory":"32Mi"},"limits":{"memory":"64Mi"}},
           "volumeMounts":[{"name":"kube-api-access-q8x4z","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","readOnly":true},
                           {"name":"limits","mountPath":"/etc/limits"}]}],
          "volumes":[{"name":"kube-api-access-q8x4z","projected":{"defaultMode":420,"sources":[
                       {"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},
                       {"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},
                       {"downwardAPI":{"items":[{"path":"namespace","fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"}}]}}]}},
                     {"name":"limits","downwardAPI":{"items":[
                       {"path":"memory","resourceFieldRef":{"containerName":"main","resource":"limits.memory","divisor":"1Mi"}},
                       {"path":"cpu","resourceFieldRef":{"containerName":"main","resource":"limits.cpu"}}]}}]}}
        """.Replace("NAME", name).Replace("NODE", Node).Replace("SA", serviceAccount);

    [Fact]
    public async Task A_kube_api_access_volume_gets_a_token_the_root_CA_and_the_namespace_and_a_missing_service_account_waits_until_it_exists()
    {
        await RunAgentAsync(await StartAgentAsync(), async () =>
        {
            await TestApiClients.WaitUntilAsync(() => _server.Store.Get("nodes", null, Node) is not null, "the node registered", 60);
            _server.Store.Create("pods", JsonNode.Parse(KubeApiAccessPod("api-client", "default"))!.AsObject());
            _server.Store.Create("pods", JsonNode.Parse(KubeApiAccessPod("robot-client", "robot"))!.AsObject());

            await TestApiClients.WaitUntilAsync(() => Phase("api-client") == "Running", "the pod is Running", 90);
            var id = ((string)ContainerStatus("api-client")!["containerID"]!)["containerd://".Length..];
            await using var runtime = fixture.Containerd.CreateClient();
            async Task<string> Run(params string[] command) => (await runtime.ExecSyncAsync(id, command, TimeSpan.FromSeconds(10))).Stdout.Trim();
            const string dir = "/var/run/secrets/kubernetes.io/serviceaccount";
            var token = await Run("cat", $"{dir}/token");
            Assert.Equal(3, token.Split('.').Length);
            Assert.Equal(_server.CaPem.Trim(), await Run("cat", $"{dir}/ca.crt"));
            Assert.Equal("default", await Run("cat", $"{dir}/namespace"));
            Assert.Equal("64", await Run("cat", "/etc/limits/memory"));
            var allocatableCpu = (string)_server.Store.Get("nodes", null, Node)!["status"]!["allocatable"]!["cpu"]!;
            Assert.Equal(allocatableCpu, await Run("cat", "/etc/limits/cpu"));
            Assert.DoesNotContain(token, string.Join("\n", _log.Lines));

            // The token's service account does not exist: the container waits with the reason, and starts once it does.
            await TestApiClients.WaitUntilAsync(() => (string?)ContainerStatus("robot-client")?["state"]?["waiting"]?["reason"] == "CreateContainerConfigError",
                "the robot pod waits with CreateContainerConfigError", 60);
            var message = (string)ContainerStatus("robot-client")!["state"]!["waiting"]!["message"]!;
            Assert.Contains("volume \"kube-api-access-q8x4z\"", message);
            Assert.Contains("serviceaccounts \"robot\" not found", message);
            Assert.Equal("Pending", Phase("robot-client"));
            _server.Store.Create("serviceaccounts", JsonNode.Parse("""{"metadata":{"name":"robot","namespace":"default"}}""")!.AsObject());
            await TestApiClients.WaitUntilAsync(() => Phase("robot-client") == "Running", "the robot pod is Running once its service account exists", 90);
        });
    }

    /// <summary>The events of one pod with one reason, as an administrator lists them (kubectl get events).</summary>
    private async Task<IReadOnlyList<k8s.Models.Corev1Event>> EventsAsync(string pod, string reason)
    {
        var (admin, _) = TestApiClients.ForAdmin(_server);
        var list = await admin.CoreV1.ListNamespacedEventAsync("default");
        return list.Items.Where(e => e.InvolvedObject.Name == pod && e.Reason == reason).ToList();
    }

    [Fact]
    public async Task A_failing_readiness_probe_gives_an_Unhealthy_event_whose_count_grows_and_a_missing_configMap_gives_FailedMount()
    {
        await RunAgentAsync(await StartAgentAsync(), async () =>
        {
            await TestApiClients.WaitUntilAsync(() => _server.Store.Get("nodes", null, Node) is not null, "the node registered", 60);
            var unready = Pod("unready");
            unready["spec"]!["containers"]![0]!["readinessProbe"] = JsonNode.Parse("""{"exec":{"command":["sh","-c","echo not yet; exit 1"]},"periodSeconds":1}""");
            _server.Store.Create("pods", unready);
            var unmountable = Pod("unmountable");
            unmountable["spec"]!["volumes"] = JsonNode.Parse("""[{"name":"cfg","configMap":{"name":"no-such-config"}}]""");
            unmountable["spec"]!["containers"]![0]!["volumeMounts"] = JsonNode.Parse("""[{"name":"cfg","mountPath":"/etc/cfg"}]""");
            _server.Store.Create("pods", unmountable);

            await TestApiClients.WaitUntilAsync(async () => (await EventsAsync("unready", "Unhealthy")).Any(e => e.Count > 1),
                "an Unhealthy event for the readiness probe has a count above 1", 90);
            var unhealthy = Assert.Single(await EventsAsync("unready", "Unhealthy"));
            Assert.Equal(("Warning", "Readiness probe failed: not yet\n", "spec.containers{main}"), (unhealthy.Type, unhealthy.Message, unhealthy.InvolvedObject.FieldPath));
            Assert.Equal(("kubelet", Node), (unhealthy.Source.Component, unhealthy.Source.Host));

            await TestApiClients.WaitUntilAsync(async () => (await EventsAsync("unmountable", "FailedMount")).Count > 0, "a FailedMount event is recorded", 60);
            var failedMount = Assert.Single(await EventsAsync("unmountable", "FailedMount"));
            Assert.Equal(("Warning", "MountVolume.SetUp failed for volume \"cfg\" : configmap \"no-such-config\" not found"), (failedMount.Type, failedMount.Message));
            Assert.Null(failedMount.InvolvedObject.FieldPath);
        });
    }

    [Fact]
    public async Task A_crash_looping_pod_reads_its_configMap_from_the_API_once_within_the_TTL()
    {
        _server.Store.Create("configmaps", JsonNode.Parse("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"loop-config","namespace":"default"},"data":{"greeting":"hello"}}""")!.AsObject());
        await RunAgentAsync(await StartAgentAsync(), async () =>
        {
            await TestApiClients.WaitUntilAsync(() => _server.Store.Get("nodes", null, Node) is not null, "the node registered", 60);
            var looping = Pod("looping", script: "exit 1");
            looping["spec"]!["volumes"] = JsonNode.Parse("""[{"name":"cfg","configMap":{"name":"loop-config"}}]""");
            looping["spec"]!["containers"]![0]!["volumeMounts"] = JsonNode.Parse("""[{"name":"cfg","mountPath":"/etc/cfg"}]""");
            looping["spec"]!["containers"]![0]!["env"] = JsonNode.Parse("""[{"name":"GREETING","valueFrom":{"configMapKeyRef":{"name":"loop-config","key":"greeting"}}}]""");
            _server.Store.Create("pods", looping);

            // Three restarts: at once, then after 10 s and 20 s of back-off, all within the default TTL of 1 min.
            await TestApiClients.WaitUntilAsync(() => (int?)ContainerStatus("looping")?["restartCount"] >= 3, "the container restarted three times", 120);
            var gets = _server.RequestLog.Entries.Count(e => e.Verb == "get" && e.Resource == "configmaps" && e.Name == "loop-config");
            Assert.True(gets == 1, $"{gets} GETs of the configMap during three restarts; expected 1 (the cache's TTL is 1 min).");
        });
    }
}
