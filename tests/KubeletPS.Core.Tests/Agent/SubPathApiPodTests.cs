using System.Text.Json.Nodes;
using k8s;
using KubeletPS.Core.Tests.Support;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>
/// The subPath symlink escape (CVE-2017-1002101) by a user who may only create a pod through the
/// API: the init container links the emptyDir to /, the app container mounts it with subPath and
/// copies a host file that is in no volume into a second emptyDir.
/// </summary>
[Collection(KubeletAgentCollection.Name)]
public sealed class SubPathApiPodTests(KubeletAgentFixture fixture) : IAsyncLifetime
{
    private const string Node = "subpath-node";
    private const string MarkerText = "api-host-secret-51c2";
    private ApiAgentHarness _h = null!;

    public async Task InitializeAsync() => _h = await ApiAgentHarness.StartAsync(Node, "kubeletps-subpath-");

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task An_API_pod_cannot_read_a_host_file_through_a_symlinked_subPath()
    {
        var marker = Path.Combine(_h.Directory, "marker");
        File.WriteAllText(marker, MarkerText);
        var root = _h.Root;
        await _h.RunAgentAsync(fixture.Containerd, async () =>
        {
            var script = $"cat /host{marker} > /out/leak; sleep 3600";
            _h.Server.Store.Create("pods", JsonNode.Parse("""
                {"apiVersion":"v1","kind":"Pod","metadata":{"name":"escape","namespace":"default"},
                 "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":1,
                  "volumes":[{"name":"w","emptyDir":{}},{"name":"out","emptyDir":{}}],
                  "initContainers":[{"name":"plant","image":"kubeletps.local/busybox:latest","imagePullPolicy":"IfNotPresent",
                    "command":["sh","-c","ln -s / /w/escape"],"volumeMounts":[{"name":"w","mountPath":"/w"}]}],
                  "containers":[{"name":"app","image":"kubeletps.local/busybox:latest","imagePullPolicy":"IfNotPresent",
                    "command":["sh","-c",SCRIPT],
                    "volumeMounts":[{"name":"w","mountPath":"/host","subPath":"escape"},{"name":"out","mountPath":"/out"}]}]}}
                """.Replace("NODE", Node).Replace("SCRIPT", System.Text.Json.JsonSerializer.Serialize(script)))!.AsObject());

            string Stolen()
            {
                var pods = Path.Combine(root, "pods");
                if (!Directory.Exists(pods)) return "";
                return string.Concat(Directory.GetDirectories(pods).Select(d => Path.Combine(d, "volumes", "kubernetes.io~empty-dir", "out", "leak"))
                    .Where(File.Exists).Select(File.ReadAllText));
            }
            JsonNode? App() => _h.Server.Store.Get("pods", "default", "escape")?["status"]?["containerStatuses"]?.AsArray().FirstOrDefault(c => (string?)c?["name"] == "app");
            await TestApiClients.WaitUntilAsync(() => Stolen().Length > 0 || (string?)App()?["state"]?["waiting"]?["reason"] == "CreateContainerConfigError",
                "the app container is refused or the marker leaked", 90);
            Assert.DoesNotContain(MarkerText, Stolen());
            Assert.Equal("failed to prepare subPath for volumeMount \"w\" of container \"app\"", (string?)App()!["state"]!["waiting"]!["message"]);
            Assert.Contains(_h.Server.Store.List("events", "default"), e => (string?)e["reason"] == "Failed" && (string?)e["involvedObject"]?["name"] == "escape"
                && (string?)e["message"] == "Error: failed to prepare subPath for volumeMount \"w\" of container \"app\"");
            Assert.Equal(MarkerText, File.ReadAllText(marker));

            // subPath of the API-object volumes (a key of a configMap, of a secret, of a downwardAPI and of a projected volume) still works.
            _h.Server.Store.Create("configmaps", JsonNode.Parse("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"sub-config","namespace":"default"},"data":{"greeting":"hello"}}""")!.AsObject());
            _h.Server.Store.Create("secrets", JsonNode.Parse("""{"apiVersion":"v1","kind":"Secret","metadata":{"name":"sub-secret","namespace":"default"},"data":{"password":"czNjcmV0"}}""")!.AsObject());
            _h.Server.Store.Create("pods", JsonNode.Parse("""
                {"apiVersion":"v1","kind":"Pod","metadata":{"name":"keys","namespace":"default"},
                 "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":1,
                  "volumes":[{"name":"cfg","configMap":{"name":"sub-config"}},{"name":"sec","secret":{"secretName":"sub-secret"}},
                             {"name":"info","downwardAPI":{"items":[{"path":"meta/name","fieldRef":{"fieldPath":"metadata.name"}}]}},
                             {"name":"proj","projected":{"sources":[{"configMap":{"name":"sub-config","items":[{"key":"greeting","path":"g"}]}}]}}],
                  "containers":[{"name":"main","image":"kubeletps.local/busybox:latest","imagePullPolicy":"IfNotPresent","command":["sleep","3600"],
                    "volumeMounts":[{"name":"cfg","mountPath":"/etc/greeting","subPath":"greeting"},{"name":"sec","mountPath":"/etc/password","subPath":"password"},
                                    {"name":"info","mountPath":"/etc/meta","subPath":"meta"},{"name":"proj","mountPath":"/etc/g","subPath":"g"}]}]}}
                """.Replace("NODE", Node))!.AsObject());
            await TestApiClients.WaitUntilAsync(() => (string?)_h.Server.Store.Get("pods", "default", "keys")?["status"]?["phase"] == "Running", "the keys pod is Running", 90);
            var id = ((string)_h.Server.Store.Get("pods", "default", "keys")!["status"]!["containerStatuses"]![0]!["containerID"]!)["containerd://".Length..];
            await using var runtime = fixture.Containerd.CreateClient();
            Assert.Equal("hello s3cret keys hello", (await runtime.ExecSyncAsync(id, ["sh", "-c", "echo $(cat /etc/greeting) $(cat /etc/password) $(cat /etc/meta/name) $(cat /etc/g)"], TimeSpan.FromSeconds(10))).Stdout.Trim());

            // Deleting both pods leaves no mount behind.
            var (admin, _) = TestApiClients.ForAdmin(_h.Server);
            await admin.CoreV1.DeleteNamespacedPodAsync("keys", "default");
            await admin.CoreV1.DeleteNamespacedPodAsync("escape", "default");
            await TestApiClients.WaitUntilAsync(() => _h.Server.Store.Get("pods", "default", "keys") is null && _h.Server.Store.Get("pods", "default", "escape") is null, "both pods are gone", 60);
            await TestApiClients.WaitUntilAsync(() => !File.ReadLines("/proc/self/mountinfo").Any(l => l.Contains(root, StringComparison.Ordinal)), "no mount is left under the root directory", 30);
        });
    }
}
