using System.Globalization;
using System.Text.Json.Nodes;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime.Remote;
using KubeletPS.Core.Stats;
using KubeletPS.Core.Tests.Support;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>
/// The eviction manager in the full agent on the private containerd: a hard memory.available threshold set just
/// under what the node has free evicts a BestEffort memory hog and spares a Guaranteed pod; the node then reports
/// MemoryPressure, the test API server's node lifecycle controller taints it, and a new BestEffort pod is refused.
/// </summary>
[Collection(KubeletAgentCollection.Name)]
public sealed class EvictionAgentTests(KubeletAgentFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private const string Node = "eviction-node";
    private const long Mi = 1L << 20;
    private ApiAgentHarness _h = null!;

    public async Task InitializeAsync() => _h = await ApiAgentHarness.StartAsync(Node, "kubeletps-eviction-");

    public async Task DisposeAsync() => await _h.DisposeAsync();

    /// <summary>memory.available as the eviction manager sees it: the stats provider's node figure (capacity − working set).</summary>
    private async Task<long> AvailableMemoryAsync()
    {
        await using var runtime = new CriRuntimeClient(fixture.Containerd.Endpoint, TimeSpan.FromSeconds(30));
        var stats = new CriStatsProvider(new CriStatsProviderOptions { NodeName = Node, Runtime = runtime, RootDirectory = _h.Root });
        return (long)(await stats.GetCpuAndMemoryStatsAsync()).Node.Memory!.AvailableBytes!.Value;
    }

    private static JsonObject Pod(string name, string script, string? resources = null) => JsonNode.Parse("""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME","namespace":"default"},
         "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":5,"restartPolicy":"Always","containers":[{"name":"main","image":"kubeletps.local/busybox:latest",
           "imagePullPolicy":"IfNotPresent","command":["sh","-c","SCRIPT"],"resources":RESOURCES}]}}
        """.Replace("NAME", name).Replace("NODE", Node).Replace("SCRIPT", script).Replace("RESOURCES", resources ?? "{}"))!.AsObject();

    [Fact]
    public async Task A_hard_memory_threshold_evicts_the_best_effort_hog_spares_the_guaranteed_pod_and_refuses_best_effort_pods_under_pressure()
    {
        var sleep = "trap 'exit 0' TERM; while true; do sleep 1; done";
        var guaranteed = """{"requests":{"memory":"64Mi","cpu":"10m"},"limits":{"memory":"64Mi","cpu":"10m"}}""";

        // The hog: three busybox tails, each keeping all of its newline-free input while that input stays open, 256 MiB
        // more a second up to 1 GiB each (3 GiB in all), held until the pod is killed. A tail whose input closes prints
        // it all and exits, and one past about 1.5 GiB stops with "tail: out of memory" (busybox keeps the buffer's size
        // in an int): either way the hog held its memory for seconds only and a round of the eviction manager could
        // miss it, which is how this test failed in fresh-clone runs. The threshold is 1 GiB under what is free before
        // the pods start, so the hog crosses it whatever else the machine frees (up to 2 GiB) while other tests run.
        var available = await AvailableMemoryAsync();
        var threshold = (available - 1024 * Mi) / Mi;
        var config = $"evictionHard:\n  memory.available: {threshold.ToString(CultureInfo.InvariantCulture)}Mi\nevictionPressureTransitionPeriod: 2m\n";
        await _h.RunAgentAsync(fixture.Containerd, async () =>
        {
            _h.Server.Store.Create("pods", Pod("guaranteed", sleep, guaranteed));
            await TestApiClients.WaitUntilAsync(() => _h.Phase("guaranteed") == "Running", "the Guaranteed pod is Running", 90);
            _h.Server.Store.Create("pods", Pod("hog", "for j in 1 2 3; do { i=0; while [ $i -lt 4 ]; do head -c 268435456 /dev/zero; i=$((i+1)); sleep 1; done; sleep 3600; } | tail & done; wait"));

            await TestApiClients.WaitUntilAsync(() => _h.Phase("hog") == "Failed", "the hog is evicted", 120);
            Assert.Equal("Running", _h.Phase("guaranteed"));
            var hog = _h.Status("hog")!;
            output.WriteLine($"memory.available at start {available / Mi} MiB, threshold {threshold} MiB; hog: {hog["message"]}");
            Assert.Equal("Evicted", (string?)hog["reason"]);
            Assert.StartsWith("The node was low on resource: memory. Threshold quantity: ", (string?)hog["message"]);
            Assert.Matches("Container main was using [0-9.]+[KMG]i, request is 0, has larger consumption of memory. $", (string?)hog["message"]);
            Assert.Contains(hog["conditions"]!.AsArray(), c => (string?)c!["type"] == "DisruptionTarget" && (string?)c["reason"] == "TerminationByKubelet");
            await TestApiClients.WaitUntilAsync(() => _h.Server.Store.List("events", "default").Any(e =>
                (string?)e["reason"] == "Evicted" && (string?)e["type"] == "Warning" && (string?)e["involvedObject"]?["name"] == "hog"
                && (string?)e["message"] == (string?)hog["message"]), "the Evicted event is recorded", 30);

            // The pressure condition (held for the transition period) and the controller's taint.
            await TestApiClients.WaitUntilAsync(() => (_h.Server.Store.Get("nodes", null, Node)?["status"]?["conditions"] as JsonArray ?? [])
                .Any(c => (string?)c!["type"] == "MemoryPressure" && (string?)c["status"] == "True"), "the node reports MemoryPressure", 30);
            var node = _h.Server.Store.Get("nodes", null, Node)!;
            var condition = node["status"]!["conditions"]!.AsArray().First(c => (string?)c!["type"] == "MemoryPressure")!;
            Assert.Equal(("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"), ((string?)condition["reason"], (string?)condition["message"]));
            Assert.Contains(node["spec"]!["taints"]!.AsArray(), t => (string?)t!["key"] == "node.kubernetes.io/memory-pressure" && (string?)t["effect"] == "NoSchedule");

            // Admission under memory pressure: a BestEffort pod is refused, a Burstable one is not.
            _h.Server.Store.Create("pods", Pod("late-best-effort", sleep));
            _h.Server.Store.Create("pods", Pod("late-burstable", sleep, """{"requests":{"memory":"16Mi"}}"""));
            await TestApiClients.WaitUntilAsync(() => _h.Phase("late-best-effort") == "Failed", "the BestEffort pod is refused", 30);
            Assert.Equal(("Evicted", "The node had condition: [MemoryPressure]. "),
                ((string?)_h.Status("late-best-effort")!["reason"], (string?)_h.Status("late-best-effort")!["message"]));
            await TestApiClients.WaitUntilAsync(() => _h.Phase("late-burstable") == "Running", "the Burstable pod runs", 60);
        }, config, waitForNode: false);
    }

    [Fact]
    public async Task An_evicted_pod_the_API_still_lists_loses_its_containers_sandbox_and_directory_and_keeps_its_Failed_Evicted_status()
    {
        await _h.RunAgentAsync(fixture.Containerd, async () =>
        {
            var pod = Pod("filler", "dd if=/dev/zero of=/scratch/fill bs=1024 count=2048 && sleep 3600");
            pod["spec"]!["containers"]![0]!["volumeMounts"] = JsonNode.Parse("""[{"name":"scratch","mountPath":"/scratch"}]""");
            pod["spec"]!["volumes"] = JsonNode.Parse("""[{"name":"scratch","emptyDir":{"sizeLimit":"1Mi"}}]""");
            _h.Server.Store.Create("pods", pod);
            await TestApiClients.WaitUntilAsync(() => _h.Phase("filler") == "Failed", "the pod is evicted", 120);
            var uid = (string)_h.Server.Store.Get("pods", "default", "filler")!["metadata"]!["uid"]!;
            var podDir = Path.Combine(_h.Root, "pods", uid);
            await using var runtime = fixture.Containerd.CreateClient();
            async Task<int> LeftoversAsync() =>
                (await runtime.ListContainersAsync()).Count(c => c.Labels.GetValueOrDefault(KubeletLabels.PodUid) == uid)
                + (await runtime.ListPodSandboxesAsync()).Count(s => s.Uid == uid);
            Assert.True(await LeftoversAsync() > 0, "the evicted pod's dead container and sandbox are in the runtime right after the eviction");

            // The periodic container GC (every minute, as kubelet's) removes them, and the pod directory with its emptyDir.
            await TestApiClients.WaitUntilAsync(async () => await LeftoversAsync() == 0 && !Directory.Exists(podDir),
                "the evicted pod's containers, sandbox and pod directory are removed", 180);

            var apiPod = _h.Server.Store.Get("pods", "default", "filler");
            Assert.NotNull(apiPod);
            var status = apiPod["status"]!;
            output.WriteLine(status.ToJsonString());
            Assert.Equal(("Failed", "Evicted", "Usage of EmptyDir volume \"scratch\" exceeds the limit \"1Mi\". "),
                ((string?)status["phase"], (string?)status["reason"], (string?)status["message"]));
            var container = status["containerStatuses"]![0]!;
            Assert.NotNull(container["state"]!["terminated"]);
            Assert.StartsWith("containerd://", (string?)container["containerID"]);
            Assert.Contains(status["conditions"]!.AsArray(), c => (string?)c!["type"] == "DisruptionTarget");
        });
    }

    [Fact]
    public async Task A_container_writing_past_its_ephemeral_storage_limit_is_evicted_with_kubelets_message()
    {
        await _h.RunAgentAsync(fixture.Containerd, async () =>
        {
            // 4 MiB into the writable layer of a container limited to 1Mi; the pod's sum (65Mi) is not reached, so
            // kubelet's container check (not the pod check) evicts it.
            var pod = Pod("writer", "dd if=/dev/zero of=/tmp/fill bs=1024 count=4096 && sleep 3600", """{"limits":{"ephemeral-storage":"1Mi"}}""");
            pod["spec"]!["containers"]!.AsArray().Add(JsonNode.Parse("""
                {"name":"idle","image":"kubeletps.local/busybox:latest","imagePullPolicy":"IfNotPresent","command":["sleep","3600"],
                 "resources":{"limits":{"ephemeral-storage":"64Mi"}}}
                """));
            _h.Server.Store.Create("pods", pod);
            await TestApiClients.WaitUntilAsync(() => _h.Phase("writer") == "Failed", "the pod is evicted", 180);
            var status = _h.Status("writer")!;
            output.WriteLine(status.ToJsonString());
            Assert.Equal(("Evicted", "Container main exceeded its local ephemeral storage limit \"1Mi\". "), ((string?)status["reason"], (string?)status["message"]));
            Assert.Contains(status["conditions"]!.AsArray(), c => (string?)c!["type"] == "DisruptionTarget" && (string?)c["reason"] == "TerminationByKubelet");
            await TestApiClients.WaitUntilAsync(() => _h.Server.Store.List("events", "default").Any(e =>
                (string?)e["reason"] == "Evicted" && (string?)e["involvedObject"]?["name"] == "writer" && (string?)e["message"] == (string?)status["message"]),
                "the Evicted event is recorded", 30);
        });
    }
}
