using System.Globalization;
using System.Text.Json.Nodes;
using KubeletPS.Core.Runtime;
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

    private string Phase(string name) => (string?)_h.Server.Store.Get("pods", "default", name)?["status"]?["phase"] ?? "";

    private JsonNode? Status(string name) => _h.Server.Store.Get("pods", "default", name)?["status"];

    [Fact]
    public async Task A_hard_memory_threshold_evicts_the_best_effort_hog_spares_the_guaranteed_pod_and_refuses_best_effort_pods_under_pressure()
    {
        var sleep = "trap 'exit 0' TERM; while true; do sleep 1; done";
        var guaranteed = """{"requests":{"memory":"64Mi","cpu":"10m"},"limits":{"memory":"64Mi","cpu":"10m"}}""";

        // 1.5 GiB held by tail (it keeps the whole newline-free input), the threshold 700 MiB under what is free right
        // before the pods start (the Guaranteed one holds a few MiB): robust to the rest of the machine moving by a few hundred MiB.
        var available = await AvailableMemoryAsync();
        var threshold = (available - 700 * Mi) / Mi;
        var config = $"evictionHard:\n  memory.available: {threshold.ToString(CultureInfo.InvariantCulture)}Mi\nevictionPressureTransitionPeriod: 2m\n";
        await _h.RunAgentAsync(fixture.Containerd, async () =>
        {
            _h.Server.Store.Create("pods", Pod("guaranteed", sleep, guaranteed));
            await TestApiClients.WaitUntilAsync(() => Phase("guaranteed") == "Running", "the Guaranteed pod is Running", 90);
            _h.Server.Store.Create("pods", Pod("hog", "head -c 1610612736 /dev/zero | tail; sleep 3600"));

            await TestApiClients.WaitUntilAsync(() => Phase("hog") == "Failed", "the hog is evicted", 120);
            Assert.Equal("Running", Phase("guaranteed"));
            var hog = Status("hog")!;
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
            await TestApiClients.WaitUntilAsync(() => Phase("late-best-effort") == "Failed", "the BestEffort pod is refused", 30);
            Assert.Equal(("Evicted", "The node had condition: [MemoryPressure]. "),
                ((string?)Status("late-best-effort")!["reason"], (string?)Status("late-best-effort")!["message"]));
            await TestApiClients.WaitUntilAsync(() => Phase("late-burstable") == "Running", "the Burstable pod runs", 60);
        }, config, waitForNode: false);
    }
}
