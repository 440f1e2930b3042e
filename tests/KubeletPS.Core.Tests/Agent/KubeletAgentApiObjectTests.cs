using System.Text.Json.Nodes;
using k8s;
using KubeletPS.Core.Tests.Support;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>
/// The full agent on the private containerd filling API pods from the API's other objects: configMap, secret, downward API
/// and service account token volumes and env, the events of probes and mounts, and the object cache's TTL.
/// </summary>
[Collection(KubeletAgentCollection.Name)]
public sealed class KubeletAgentApiObjectTests(KubeletAgentFixture fixture) : IAsyncLifetime
{
    private const string Node = KubeletAgentTests.Node;
    private ApiAgentHarness _h = null!;

    public async Task InitializeAsync() => _h = await ApiAgentHarness.StartAsync(Node, "kubeletps-agent-objects-");

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private static JsonObject Pod(string name, string script = KubeletAgentTests.SleepForever) => KubeletAgentTests.Pod(name, script: script);

    [Fact]
    public async Task ConfigMap_secret_and_downward_API_volumes_and_env_are_filled_from_the_API()
    {
        _h.Server.Store.Create("configmaps", JsonNode.Parse("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"app-config","namespace":"default"},"data":{"greeting":"hello","color":"blue"}}""")!.AsObject());
        _h.Server.Store.Create("secrets", JsonNode.Parse("""{"apiVersion":"v1","kind":"Secret","metadata":{"name":"app-secret","namespace":"default"},"data":{"password":"PASSWORD"}}"""
            .Replace("PASSWORD", Convert.ToBase64String("s3cret"u8.ToArray())))!.AsObject());
        await _h.RunAgentAsync(fixture.Containerd, async () =>
        {
            _h.Server.Store.Create("pods", JsonNode.Parse("""
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
            await TestApiClients.WaitUntilAsync(() => _h.Phase("configured") == "Running", "the pod is Running", 90);
            var id = _h.ContainerId("configured");
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
            var secretFile = Directory.EnumerateFiles(Path.Combine(_h.Root, "pods"), "password", SearchOption.AllDirectories)
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
        await _h.RunAgentAsync(fixture.Containerd, async () =>
        {
            _h.Server.Store.Create("pods", JsonNode.Parse(KubeApiAccessPod("api-client", "default"))!.AsObject());
            _h.Server.Store.Create("pods", JsonNode.Parse(KubeApiAccessPod("robot-client", "robot"))!.AsObject());

            await TestApiClients.WaitUntilAsync(() => _h.Phase("api-client") == "Running", "the pod is Running", 90);
            var id = _h.ContainerId("api-client");
            await using var runtime = fixture.Containerd.CreateClient();
            async Task<string> Run(params string[] command) => (await runtime.ExecSyncAsync(id, command, TimeSpan.FromSeconds(10))).Stdout.Trim();
            const string dir = "/var/run/secrets/kubernetes.io/serviceaccount";
            var token = await Run("cat", $"{dir}/token");
            Assert.Equal(3, token.Split('.').Length);
            Assert.Equal(_h.Server.CaPem.Trim(), await Run("cat", $"{dir}/ca.crt"));
            Assert.Equal("default", await Run("cat", $"{dir}/namespace"));
            Assert.Equal("64", await Run("cat", "/etc/limits/memory"));
            var allocatableCpu = (string)_h.Server.Store.Get("nodes", null, Node)!["status"]!["allocatable"]!["cpu"]!;
            Assert.Equal(allocatableCpu, await Run("cat", "/etc/limits/cpu"));
            Assert.DoesNotContain(token, string.Join("\n", _h.Log.Lines));

            // The token's service account does not exist: the container waits with the reason, and starts once it does.
            await TestApiClients.WaitUntilAsync(() => (string?)_h.ContainerStatus("robot-client")?["state"]?["waiting"]?["reason"] == "CreateContainerConfigError",
                "the robot pod waits with CreateContainerConfigError", 60);
            var message = (string)_h.ContainerStatus("robot-client")!["state"]!["waiting"]!["message"]!;
            Assert.Contains("volume \"kube-api-access-q8x4z\"", message);
            Assert.Contains("serviceaccounts \"robot\" not found", message);
            Assert.Equal("Pending", _h.Phase("robot-client"));
            _h.Server.Store.Create("serviceaccounts", JsonNode.Parse("""{"metadata":{"name":"robot","namespace":"default"}}""")!.AsObject());
            await TestApiClients.WaitUntilAsync(() => _h.Phase("robot-client") == "Running", "the robot pod is Running once its service account exists", 90);
        });
    }

    /// <summary>The events of one pod with one reason, as an administrator lists them (kubectl get events).</summary>
    private async Task<IReadOnlyList<k8s.Models.Corev1Event>> EventsAsync(string pod, string reason)
    {
        var (admin, _) = TestApiClients.ForAdmin(_h.Server);
        var list = await admin.CoreV1.ListNamespacedEventAsync("default");
        return list.Items.Where(e => e.InvolvedObject.Name == pod && e.Reason == reason).ToList();
    }

    [Fact]
    public async Task A_failing_readiness_probe_gives_an_Unhealthy_event_whose_count_grows_and_a_missing_configMap_gives_FailedMount()
    {
        await _h.RunAgentAsync(fixture.Containerd, async () =>
        {
            var unready = Pod("unready");
            unready["spec"]!["containers"]![0]!["readinessProbe"] = JsonNode.Parse("""{"exec":{"command":["sh","-c","echo not yet; exit 1"]},"periodSeconds":1}""");
            _h.Server.Store.Create("pods", unready);
            var unmountable = Pod("unmountable");
            unmountable["spec"]!["volumes"] = JsonNode.Parse("""[{"name":"cfg","configMap":{"name":"no-such-config"}}]""");
            unmountable["spec"]!["containers"]![0]!["volumeMounts"] = JsonNode.Parse("""[{"name":"cfg","mountPath":"/etc/cfg"}]""");
            _h.Server.Store.Create("pods", unmountable);

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
        _h.Server.Store.Create("configmaps", JsonNode.Parse("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"loop-config","namespace":"default"},"data":{"greeting":"hello"}}""")!.AsObject());
        await _h.RunAgentAsync(fixture.Containerd, async () =>
        {
            var looping = Pod("looping", script: "exit 1");
            looping["spec"]!["volumes"] = JsonNode.Parse("""[{"name":"cfg","configMap":{"name":"loop-config"}}]""");
            looping["spec"]!["containers"]![0]!["volumeMounts"] = JsonNode.Parse("""[{"name":"cfg","mountPath":"/etc/cfg"}]""");
            looping["spec"]!["containers"]![0]!["env"] = JsonNode.Parse("""[{"name":"GREETING","valueFrom":{"configMapKeyRef":{"name":"loop-config","key":"greeting"}}}]""");
            _h.Server.Store.Create("pods", looping);

            // Three restarts: at once, then after 10 s and 20 s of back-off, all within the default TTL of 1 min.
            await TestApiClients.WaitUntilAsync(() => (int?)_h.ContainerStatus("looping")?["restartCount"] >= 3, "the container restarted three times", 120);
            var gets = _h.Server.RequestLog.Entries.Count(e => e.Verb == "get" && e.Resource == "configmaps" && e.Name == "loop-config");
            Assert.True(gets == 1, $"{gets} GETs of the configMap during three restarts; expected 1 (the cache's TTL is 1 min).");
        });
    }
}
