using System.Text.Json.Nodes;
using k8s;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Runtime;

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
    internal const string Node = "agent-node";
    private ApiAgentHarness _h = null!;

    public async Task InitializeAsync() => _h = await ApiAgentHarness.StartAsync(Node, "kubeletps-agent-");

    public async Task DisposeAsync() => await _h.DisposeAsync();

    internal const string SleepForever = "trap 'exit 0' TERM; while true; do sleep 1; done";

    /// <summary>A pod bound to the node: busybox running <paramref name="script"/>, requesting <paramref name="memoryRequest"/> and 10m CPU.</summary>
    internal static JsonObject Pod(string name, string memoryRequest = "16Mi", string script = SleepForever) => JsonNode.Parse("""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME","namespace":"default"},
         "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":5,"restartPolicy":"Always","containers":[{"name":"main","image":"kubeletps.local/busybox:latest",
           "imagePullPolicy":"IfNotPresent","command":["sh","-c","SCRIPT"],
           "resources":{"requests":{"memory":"MEMORY","cpu":"10m"}}}]}}
        """.Replace("NAME", name).Replace("NODE", Node).Replace("MEMORY", memoryRequest).Replace("SCRIPT", script))!.AsObject();

    [Fact]
    public async Task A_pod_created_in_the_API_runs_reports_Running_with_its_IP_and_is_removed_when_deleted()
    {
        await _h.RunAgentAsync(fixture.Containerd, async () =>
        {
            var images = _h.Server.Store.Get("nodes", null, Node)!["status"]!["images"]!.AsArray();
            Assert.Contains(images, i => i!["names"]!.AsArray().Any(n => (string?)n == "kubeletps.local/busybox:latest"));
            _h.Server.Store.Create("pods", Pod("web"));
            await TestApiClients.WaitUntilAsync(() => _h.Phase("web") == "Running", "the pod is Running in the API", 90);
            var status = _h.Server.Store.Get("pods", "default", "web")!["status"]!;
            Assert.StartsWith("10.231.", (string?)status["podIP"]);
            Assert.Equal(ApiAgentHarness.NodeIp, (string?)status["hostIP"]);
            var container = status["containerStatuses"]![0]!;
            Assert.Equal("main", (string?)container["name"]);
            Assert.NotNull(container["state"]!["running"]);
            Assert.StartsWith("containerd://", (string?)container["containerID"]);
            await TestApiClients.WaitUntilAsync(() => _h.Server.Store.List("events", "default").Any(e =>
                (string?)e["reason"] == "Started" && (string?)e["involvedObject"]?["name"] == "web"
                && (string?)e["involvedObject"]?["fieldPath"] == "spec.containers{main}" && (string?)e["source"]?["host"] == Node),
                "a Started event for the container is recorded", 30);
            Assert.Contains(_h.Server.Store.List("events", "default"), e => (string?)e["reason"] == "Pulled" && (string?)e["involvedObject"]?["name"] == "web"
                && (string?)e["message"] == "Container image \"kubeletps.local/busybox:latest\" already present on machine");

            // kubectl delete: graceful, then gone once the agent has stopped the containers.
            var (admin, _) = TestApiClients.ForAdmin(_h.Server);
            await admin.CoreV1.DeleteNamespacedPodAsync("web", "default");
            Assert.NotNull(_h.Server.Store.Get("pods", "default", "web")!["metadata"]!["deletionTimestamp"]);
            await TestApiClients.WaitUntilAsync(() => _h.Server.Store.Get("pods", "default", "web") is null, "the pod is gone from the API", 60);
            Assert.Contains(_h.Server.Store.List("events", "default"), e => (string?)e["reason"] == "Killing" && (string?)e["involvedObject"]?["name"] == "web");
            await TestApiClients.WaitUntilAsync(async () => (await fixture.Containerd.CreateClient().ListContainersAsync())
                .All(c => c.Labels.GetValueOrDefault("io.kubernetes.pod.name") != "web"), "the containers are removed", 30);
        });
    }

    [Fact]
    public async Task A_pod_too_large_for_the_node_is_rejected_with_OutOfmemory_and_a_static_pod_gets_a_mirror_pod()
    {
        var manifests = Path.Combine(_h.Directory, "manifests");
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
        await _h.RunAgentAsync(fixture.Containerd, configure: r => r with { StaticPodPath = manifests }, body: async () =>
        {
            _h.Server.Store.Create("pods", Pod("huge", memoryRequest: "100Ti"));
            await TestApiClients.WaitUntilAsync(() => _h.Phase("huge") == "Failed", "the pod is rejected", 60);
            var status = _h.Server.Store.Get("pods", "default", "huge")!["status"]!;
            Assert.Equal("OutOfmemory", (string?)status["reason"]);
            Assert.Contains("Node didn't have enough resource: memory", (string?)status["message"]);

            var mirrorName = $"static-web-{Node}";
            await TestApiClients.WaitUntilAsync(() => _h.Phase(mirrorName) == "Running", "the mirror pod shows the static pod Running", 90);
            var mirror = _h.Server.Store.Get("pods", "default", mirrorName)!;
            Assert.NotNull(mirror["metadata"]!["annotations"]!["kubernetes.io/config.mirror"]);
            Assert.Equal("Node", (string?)mirror["metadata"]!["ownerReferences"]![0]!["kind"]);
        });
    }

    [Fact]
    public async Task API_pods_get_their_seccomp_profile_and_fsGroup_and_are_rejected_for_a_forbidden_sysctl_or_a_taken_host_port()
    {
        _h.Server.Store.Create("configmaps", JsonNode.Parse("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"sec-config","namespace":"default"},"data":{"k":"v"}}""")!.AsObject());
        await _h.RunAgentAsync(fixture.Containerd, async () =>
        {
            var confined = Pod("confined");
            confined["spec"]!["securityContext"] = JsonNode.Parse("""{"seccompProfile":{"type":"RuntimeDefault"},"fsGroup":3000,"runAsUser":1000}""");
            confined["spec"]!["volumes"] = JsonNode.Parse("""[{"name":"cfg","configMap":{"name":"sec-config"}}]""");
            confined["spec"]!["containers"]![0]!["volumeMounts"] = JsonNode.Parse("""[{"name":"cfg","mountPath":"/etc/cfg"}]""");
            confined["spec"]!["containers"]![0]!["ports"] = JsonNode.Parse("""[{"containerPort":8080,"hostPort":18932}]""");
            _h.Server.Store.Create("pods", confined);
            await TestApiClients.WaitUntilAsync(() => _h.Phase("confined") == "Running", "the pod is Running", 90);
            var id = _h.ContainerId("confined");
            await using var runtime = fixture.Containerd.CreateClient();
            async Task<string> Run(params string[] command) => (await runtime.ExecSyncAsync(id, command, TimeSpan.FromSeconds(10))).Stdout.Trim();
            Assert.Equal("Seccomp:\t2", await Run("grep", "^Seccomp:", "/proc/self/status"));
            Assert.Contains("3000", (await Run("id", "-G")).Split(' '));
            Assert.Equal("3000 v", await Run("sh", "-c", "stat -L -c %g /etc/cfg/k | tr '\\n' ' '; cat /etc/cfg/k"));

            var sysctl = Pod("sysctl");
            sysctl["spec"]!["securityContext"] = JsonNode.Parse("""{"sysctls":[{"name":"kernel.msgmax","value":"1"}]}""");
            _h.Server.Store.Create("pods", sysctl);
            var port = Pod("port");
            port["spec"]!["containers"]![0]!["ports"] = JsonNode.Parse("""[{"containerPort":80,"hostPort":18932}]""");
            _h.Server.Store.Create("pods", port);
            await TestApiClients.WaitUntilAsync(() => _h.Phase("sysctl") == "Failed" && _h.Phase("port") == "Failed", "both pods are rejected", 60);
            var status = _h.Server.Store.Get("pods", "default", "sysctl")!["status"]!;
            Assert.Equal("SysctlForbidden", (string?)status["reason"]);
            Assert.Equal("Pod was rejected: forbidden sysctl: \"kernel.msgmax\" not allowlisted", (string?)status["message"]);
            Assert.Equal("NodePorts", (string?)_h.Server.Store.Get("pods", "default", "port")!["status"]!["reason"]);
        });
    }

    [Fact]
    public async Task A_crashing_container_is_restarted_and_reports_CrashLoopBackOff_in_the_API()
    {
        await _h.RunAgentAsync(fixture.Containerd, async () =>
        {
            _h.Server.Store.Create("pods", Pod("crasher", script: "exit 1"));

            // The first restart is immediate; the back-off (10 s, then 20 s) follows, shown as waiting CrashLoopBackOff.
            await TestApiClients.WaitUntilAsync(() =>
                _h.ContainerStatus("crasher") is { } c
                && (int?)c["restartCount"] >= 1
                && (string?)c["state"]?["waiting"]?["reason"] == "CrashLoopBackOff", "the API shows a restart and CrashLoopBackOff", 120);
            var container = _h.ContainerStatus("crasher")!;
            Assert.Equal("main", (string?)container["name"]);
            Assert.Equal(1, (int?)container["lastState"]?["terminated"]?["exitCode"]);
            Assert.NotEqual(true, (bool?)container["ready"]);
        });
    }

    [Fact]
    public async Task A_new_agent_on_the_same_root_directory_adopts_the_running_API_pod_without_restarting_it_and_removes_one_deleted_meanwhile()
    {
        string containerId;
        await using (var first = await _h.StartAgentAsync(fixture.Containerd, configure: r => r with { StopPodsOnExit = false }))
        {
            containerId = await first.RunAsync(async () =>
            {
                await _h.WaitForNodeAsync();
                _h.Server.Store.Create("pods", Pod("survivor"));
                _h.Server.Store.Create("pods", Pod("goner"));
                await TestApiClients.WaitUntilAsync(() => _h.Phase("survivor") == "Running" && _h.ContainerStatus("survivor")?["state"]?["running"] is not null
                    && _h.Phase("goner") == "Running", "the pods are Running in the API", 90);
                return (string)_h.ContainerStatus("survivor")!["containerID"]!;
            });
        }
        await using var runtime = fixture.Containerd.CreateClient();
        Assert.Contains(await runtime.ListContainersAsync(), c => $"containerd://{c.Id}" == containerId && c.State == KubeletPS.Core.Runtime.ContainerState.Running);
        // While no agent runs, an administrator force-deletes one pod (kubectl delete --grace-period=0 --force).
        _h.Server.Store.Delete("pods", "default", "goner");
        Assert.Contains(await runtime.ListContainersAsync(), c => c.Labels.GetValueOrDefault("io.kubernetes.pod.name") == "goner");

        await using var second = await _h.StartAgentAsync(fixture.Containerd);
        await second.RunAsync(async () =>
        {
            // Once the new agent has the pod and a few sync rounds have passed, the runtime and the API show the original container.
            await TestApiClients.WaitUntilAsync(async () =>
                (await runtime.ListContainersAsync()).Any(c => c.Labels.GetValueOrDefault("io.kubernetes.pod.name") == "survivor")
                && second.Agent.Pods?.Pods.Any(p => p.Metadata?.Name == "survivor") == true,
                "the new agent knows the pod", 60);
            await Task.Delay(TimeSpan.FromSeconds(3));
            Assert.Equal("Running", _h.Phase("survivor"));
            var container = _h.ContainerStatus("survivor")!;
            Assert.Equal(containerId, (string?)container["containerID"]);
            Assert.Equal(0, (int?)container["restartCount"]);
            Assert.NotNull(container["state"]!["running"]);
            var survivors = (await runtime.ListContainersAsync()).Where(c => c.Labels.GetValueOrDefault("io.kubernetes.pod.name") == "survivor").ToList();
            Assert.Equal([containerId], survivors.Select(c => $"containerd://{c.Id}"));
            // The pod deleted while the agent was down is killed and removed on start.
            await TestApiClients.WaitUntilAsync(async () => !(await runtime.ListContainersAsync()).Any(c => c.Labels.GetValueOrDefault("io.kubernetes.pod.name") == "goner")
                && !(await runtime.ListPodSandboxesAsync()).Any(p => p.Labels.GetValueOrDefault("io.kubernetes.pod.name") == "goner"),
                "the deleted pod's containers and sandbox are removed", 60);
        });
    }

    [Fact]
    public async Task With_the_API_server_away_for_30_s_pods_keep_running_and_their_status_catches_up()
    {
        await _h.RunAgentAsync(fixture.Containerd, async () =>
        {
            _h.Server.Store.Create("pods", Pod("steady"));
            // Exits every few seconds: it restarts while the API server is away, so there is news to report.
            _h.Server.Store.Create("pods", Pod("flappy", script: "sleep 4; exit 1"));
            await TestApiClients.WaitUntilAsync(() => _h.Phase("steady") == "Running" && _h.Phase("flappy") == "Running", "both pods are Running", 90);
            await TestApiClients.WaitUntilAsync(() => (string?)_h.ContainerStatus("steady")?["containerID"] is not null, "the steady container is reported", 30);
            var steadyId = (string?)_h.ContainerStatus("steady")!["containerID"];
            var flappyRestartsBefore = (int?)_h.ContainerStatus("flappy")?["restartCount"] ?? 0;

            await _h.Server.StopListeningAsync();
            await Task.Delay(TimeSpan.FromSeconds(30));
            await using (var runtime = fixture.Containerd.CreateClient())
            {
                // Away from the API server, the node keeps its pods.
                Assert.Contains(await runtime.ListContainersAsync(), c => $"containerd://{c.Id}" == steadyId && c.State == KubeletPS.Core.Runtime.ContainerState.Running);
            }
            await _h.Server.ResumeListeningAsync();

            await TestApiClients.WaitUntilAsync(() => ((int?)_h.ContainerStatus("flappy")?["restartCount"] ?? 0) > flappyRestartsBefore,
                "the restarts during the outage reach the API", 60);
            var steady = _h.ContainerStatus("steady")!;
            Assert.Equal(steadyId, (string?)steady["containerID"]);
            Assert.Equal(0, (int?)steady["restartCount"]);
            Assert.Equal("Running", _h.Phase("steady"));
            // The watch resumed: a pod created now runs without the agent being restarted.
            _h.Server.Store.Create("pods", Pod("after"));
            await TestApiClients.WaitUntilAsync(() => _h.Phase("after") == "Running", "a pod created after the outage runs", 90);
        });
    }

    [Fact]
    public async Task Fifty_pods_created_at_once_all_reach_Running()
    {
        await _h.RunAgentAsync(fixture.Containerd, async () =>
        {
            var names = Enumerable.Range(1, 50).Select(i => $"many-{i:00}").ToList();
            foreach (var name in names) _h.Server.Store.Create("pods", Pod(name, memoryRequest: "8Mi"));
            await TestApiClients.WaitUntilAsync(() => names.All(n => _h.Phase(n) == "Running"),
                "all 50 pods are Running", 300);
            Assert.All(names, n => Assert.StartsWith("10.231.", (string?)_h.Server.Store.Get("pods", "default", n)!["status"]!["podIP"]));
            Assert.Equal(50, names.Select(n => (string?)_h.Server.Store.Get("pods", "default", n)!["status"]!["podIP"]).Distinct().Count());
        });
    }
}
