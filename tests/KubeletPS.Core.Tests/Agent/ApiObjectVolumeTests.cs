using System.Text.Json.Nodes;
using k8s;
using KubeletPS.Core.Tests.Support;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>
/// configMap, secret and projected volumes of API pods as attacks and as the user sees them: a
/// container cannot change them (read-only mounts), secrets and tokens are on a tmpfs, the files
/// are links through <c>..data</c>, and an update reaches a running container. emptyDir medium
/// Memory is a tmpfs of kubelet's size, and an emptyDir over its sizeLimit evicts the pod.
/// </summary>
[Collection(KubeletAgentCollection.Name)]
public sealed class ApiObjectVolumeTests(KubeletAgentFixture fixture) : IAsyncLifetime
{
    private const string Node = "volume-node";
    private ApiAgentHarness _h = null!;

    public async Task InitializeAsync() => _h = await ApiAgentHarness.StartAsync(Node, "kubeletps-volumes-");

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private string Root => _h.Root;

    /// <summary>Starts the full agent (syncFrequency 2 s) and runs <paramref name="body"/> once the node registered; stops the agent after.</summary>
    private Task WithAgentAsync(Func<Task> body) => _h.RunAgentAsync(fixture.Containerd, body, "syncFrequency: 2s\n");

    private string Phase(string name) => _h.Phase(name);

    private string ContainerId(string pod) =>
        ((string)_h.Server.Store.Get("pods", "default", pod)!["status"]!["containerStatuses"]![0]!["containerID"]!)["containerd://".Length..];

    private string Uid(string pod) => (string)_h.Server.Store.Get("pods", "default", pod)!["metadata"]!["uid"]!;

    private void CreatePod(string json) => _h.CreatePod(json);

    /// <summary>The file system type and super options of the mount at <paramref name="path"/> in the agent's mount table; null when it is not a mount point.</summary>
    private static (string Type, string Options)? MountAt(string path)
    {
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            var dash = Array.IndexOf(fields, "-");
            if (fields.Length > 4 && fields[4] == path && dash > 0 && dash + 3 < fields.Length) return (fields[dash + 1], fields[dash + 3]);
        }
        return null;
    }

    /// <summary>Overwrites, removes and creates a file in each volume; prints what succeeded.</summary>
    private const string AttackScript = "for f in /cfg/greeting /sec/password /proj/token; do d=${f%/*}; " +
        "(echo x > $f) 2>&1 && echo WROTE $f; (rm -f $f) 2>&1 && echo REMOVED $f; (touch $d/new) 2>&1 && echo CREATED $d/new; done";

    [Fact]
    public async Task A_container_cannot_write_remove_or_create_files_in_its_configMap_secret_or_kube_api_access_volume_and_secrets_live_on_tmpfs()
    {
        _h.Server.Store.Create("configmaps", JsonNode.Parse("""{"metadata":{"name":"app-config","namespace":"default"},"data":{"greeting":"hello","nested.conf":"a=1"}}""")!.AsObject());
        _h.Server.Store.Create("secrets", JsonNode.Parse("""{"metadata":{"name":"app-secret","namespace":"default"},"data":{"password":"czNjcmV0"}}""")!.AsObject());
        await WithAgentAsync(async () =>
        {
            CreatePod("""
                {"apiVersion":"v1","kind":"Pod","metadata":{"name":"attacker","namespace":"default"},
                 "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":2,"containers":[{"name":"main","image":"kubeletps.local/busybox:latest",
                   "imagePullPolicy":"IfNotPresent","command":["sleep","3600"],
                   "volumeMounts":[{"name":"cfg","mountPath":"/cfg"},{"name":"sec","mountPath":"/sec","readOnly":false},{"name":"proj","mountPath":"/proj"}]}],
                  "volumes":[{"name":"cfg","configMap":{"name":"app-config","items":[{"key":"greeting","path":"greeting"},{"key":"nested.conf","path":"conf/nested.conf","mode":384}]}},
                             {"name":"sec","secret":{"secretName":"app-secret","defaultMode":256}},
                             {"name":"proj","projected":{"defaultMode":420,"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},
                               {"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}}]}}]}}
                """);
            await TestApiClients.WaitUntilAsync(() => Phase("attacker") == "Running", "the pod is Running", 90);
            await using var runtime = fixture.Containerd.CreateClient();
            var id = ContainerId("attacker");
            async Task<string> Run(string script) { var r = await runtime.ExecSyncAsync(id, ["sh", "-c", script], TimeSpan.FromSeconds(10)); return (r.Stdout + r.Stderr).Trim(); }

            var attack = await Run(AttackScript);
            Assert.DoesNotContain("WROTE", attack);
            Assert.DoesNotContain("REMOVED", attack);
            Assert.DoesNotContain("CREATED", attack);
            Assert.Contains("Read-only file system", attack);
            Assert.Equal("hello", await Run("cat /cfg/greeting"));
            Assert.Equal("s3cret", await Run("cat /sec/password"));

            // The user-visible names are links through ..data into the timestamped directory; modes are the volume's.
            Assert.Equal("..data/greeting", await Run("readlink /cfg/greeting"));
            Assert.Equal("..data/conf", await Run("readlink /cfg/conf"));
            Assert.Matches(@"^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$", await Run("readlink /cfg/..data"));
            Assert.Equal("600", await Run("stat -L -c %a /cfg/conf/nested.conf"));
            Assert.Equal("400", await Run("stat -L -c %a /sec/password"));
            Assert.Equal("a=1", await Run("cat /cfg/conf/nested.conf"));

            // Secrets and the token are on a tmpfs on the node, never on its disk; the configMap is not.
            var volumes = Path.Combine(Root, "pods", Uid("attacker"), "volumes");
            Assert.Equal("tmpfs", MountAt(Path.Combine(volumes, "kubernetes.io~secret", "sec"))?.Type);
            Assert.Equal("tmpfs", MountAt(Path.Combine(volumes, "kubernetes.io~projected", "proj"))?.Type);
            Assert.Null(MountAt(Path.Combine(volumes, "kubernetes.io~configmap", "cfg")));
        });
    }

    [Fact]
    public async Task An_update_of_the_configMap_reaches_the_running_container_through_the_data_link_without_a_restart()
    {
        _h.Server.Store.Create("configmaps", JsonNode.Parse("""{"metadata":{"name":"live-config","namespace":"default"},"data":{"color":"blue","old":"x"}}""")!.AsObject());
        await WithAgentAsync(async () =>
        {
            CreatePod("""
                {"apiVersion":"v1","kind":"Pod","metadata":{"name":"reader","namespace":"default"},
                 "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":2,"containers":[{"name":"main","image":"kubeletps.local/busybox:latest",
                   "imagePullPolicy":"IfNotPresent","command":["sleep","3600"],"volumeMounts":[{"name":"cfg","mountPath":"/cfg"}]}],
                  "volumes":[{"name":"cfg","configMap":{"name":"live-config"}}]}}
                """);
            await TestApiClients.WaitUntilAsync(() => Phase("reader") == "Running", "the pod is Running", 90);
            await using var runtime = fixture.Containerd.CreateClient();
            var id = ContainerId("reader");
            async Task<string> Run(string script) => (await runtime.ExecSyncAsync(id, ["sh", "-c", script], TimeSpan.FromSeconds(10))).Stdout.Trim();
            Assert.Equal("blue", await Run("cat /cfg/color"));
            var before = await Run("readlink /cfg/..data");

            _h.Server.Store.Update("configmaps", "default", "live-config", o => o["data"] = JsonNode.Parse("""{"color":"green","new":"y"}"""));
            // The agent's copy of the configMap lives for the cache's TTL (1 min without the node's TTL annotation), then the next sync swaps ..data.
            await TestApiClients.WaitUntilAsync(async () => await Run("cat /cfg/color") == "green", "the container reads the new value", 150);
            Assert.Equal("y", await Run("cat /cfg/new"));
            Assert.Equal("gone", await Run("test -e /cfg/old && echo present || echo gone"));
            Assert.NotEqual(before, await Run("readlink /cfg/..data"));
            Assert.Equal(1, int.Parse(await Run("ls -a /cfg | grep -c '^\\.\\.[0-9]'"), System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(id, ContainerId("reader"));
            Assert.Equal(0, (int?)_h.Server.Store.Get("pods", "default", "reader")!["status"]!["containerStatuses"]![0]!["restartCount"]);
        });
    }

    [Fact]
    public async Task An_emptyDir_of_medium_Memory_is_a_tmpfs_sized_by_its_sizeLimit_or_the_pods_memory_limit()
    {
        await WithAgentAsync(async () =>
        {
            CreatePod("""
                {"apiVersion":"v1","kind":"Pod","metadata":{"name":"memory-dirs","namespace":"default"},
                 "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":2,"containers":[{"name":"main","image":"kubeletps.local/busybox:latest",
                   "imagePullPolicy":"IfNotPresent","command":["sleep","3600"],"resources":{"limits":{"memory":"48Mi"}},
                   "volumeMounts":[{"name":"small","mountPath":"/small"},{"name":"bounded","mountPath":"/bounded"}]}],
                  "volumes":[{"name":"small","emptyDir":{"medium":"Memory","sizeLimit":"8Mi"}},{"name":"bounded","emptyDir":{"medium":"Memory"}}]}}
                """);
            await TestApiClients.WaitUntilAsync(() => Phase("memory-dirs") == "Running", "the pod is Running", 90);
            var dirs = Path.Combine(Root, "pods", Uid("memory-dirs"), "volumes", "kubernetes.io~empty-dir");
            var small = MountAt(Path.Combine(dirs, "small"));
            var bounded = MountAt(Path.Combine(dirs, "bounded"));
            Assert.Equal("tmpfs", small?.Type);
            Assert.Contains("size=8192k", small!.Value.Options);
            Assert.Equal("tmpfs", bounded?.Type);
            Assert.Contains("size=49152k", bounded!.Value.Options);

            await using var runtime = fixture.Containerd.CreateClient();
            var result = await runtime.ExecSyncAsync(ContainerId("memory-dirs"), ["sh", "-c", "echo hi > /small/f && cat /small/f && stat -f -c %T /small"], TimeSpan.FromSeconds(10));
            Assert.Equal("hi\ntmpfs", result.Stdout.Trim());
        });
    }

    [Fact]
    public async Task A_pod_writing_past_its_emptyDir_sizeLimit_is_evicted_with_kubelets_message_and_an_Evicted_event()
    {
        await WithAgentAsync(async () =>
        {
            CreatePod("""
                {"apiVersion":"v1","kind":"Pod","metadata":{"name":"filler","namespace":"default"},
                 "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":2,"containers":[{"name":"main","image":"kubeletps.local/busybox:latest",
                   "imagePullPolicy":"IfNotPresent","command":["sh","-c","dd if=/dev/zero of=/scratch/fill bs=1024 count=2048 && sleep 3600"],
                   "volumeMounts":[{"name":"scratch","mountPath":"/scratch"}]}],
                  "volumes":[{"name":"scratch","emptyDir":{"sizeLimit":"1Mi"}}]}}
                """);
            await TestApiClients.WaitUntilAsync(() => Phase("filler") == "Failed", "the pod is evicted", 90);
            var status = _h.Server.Store.Get("pods", "default", "filler")!["status"]!;
            Assert.Equal("Evicted", (string?)status["reason"]);
            Assert.Equal("Usage of EmptyDir volume \"scratch\" exceeds the limit \"1Mi\". ", (string?)status["message"]);
            Assert.Contains(status["conditions"]!.AsArray(), c => (string?)c!["type"] == "DisruptionTarget" && (string?)c["reason"] == "TerminationByKubelet");
            Assert.NotNull(status["containerStatuses"]![0]!["state"]!["terminated"]);

            var (admin, _) = TestApiClients.ForAdmin(_h.Server);
            await TestApiClients.WaitUntilAsync(async () => (await admin.CoreV1.ListNamespacedEventAsync("default")).Items
                .Any(e => e.InvolvedObject.Name == "filler" && e.Reason == "Evicted" && e.Type == "Warning" && e.Message.Contains("exceeds the limit \"1Mi\"", StringComparison.Ordinal)),
                "an Evicted warning event", 30);
        });
    }
}
