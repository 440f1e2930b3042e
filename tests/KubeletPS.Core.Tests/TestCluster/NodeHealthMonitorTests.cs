using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Server;
using KubeletPS.TestCluster.Storage;
using Microsoft.Extensions.Time.Testing;

namespace KubeletPS.Core.Tests.TestCluster;

/// <summary>The test API server's node health monitor (kube-controller-manager's --node-monitor-grace-period) on a fake clock.</summary>
public sealed class NodeHealthMonitorTests
{
    private static JsonObject ReadyNode(string name, DateTimeOffset now)
    {
        var node = TestObjects.Node(name);
        var stamp = ObjectStore.FormatTime(now);
        foreach (var condition in node["status"]!["conditions"]!.AsArray())
        {
            condition!["lastHeartbeatTime"] = stamp;
            condition["lastTransitionTime"] = stamp;
        }
        var ready = node["status"]!["conditions"]!.AsArray().Single(c => (string?)c!["type"] == "Ready")!;
        ready["status"] = "True";
        ready["reason"] = "KubeletReady";
        return node;
    }

    private static void Renew(TestApiServer server, string name, DateTimeOffset now) =>
        server.Store.Update("leases", "kube-node-lease", name, l => l["spec"]!["renewTime"] = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture));

    private static JsonNode Condition(TestApiServer server, string node, string type) =>
        server.Store.Get("nodes", null, node)!["status"]!["conditions"]!.AsArray().Single(c => (string?)c!["type"] == type)!;

    [Fact]
    public async Task A_node_whose_lease_is_not_renewed_for_the_grace_period_goes_Unknown_and_a_renewing_node_stays_Ready()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestObjects.StartServerAsync(new TestApiServerOptions
        {
            Pki = TestObjects.SharedPki, TimeProvider = clock, NodeMonitorGracePeriod = TimeSpan.FromSeconds(40),
        });
        foreach (var name in new[] { "renewing", "silent" })
        {
            server.Store.Create("nodes", ReadyNode(name, clock.GetUtcNow()));
            server.Store.Create("leases", TestObjects.Lease(name, name));
            Renew(server, name, clock.GetUtcNow());
        }
        var silentSince = (string?)Condition(server, "silent", "Ready")["lastHeartbeatTime"];

        // 5 s steps of the fake clock (the monitor period); "renewing" renews every 10 s as a kubelet with nodeLeaseDurationSeconds 40 does.
        for (var step = 0; step < 200 && (string?)Condition(server, "silent", "Ready")["status"] != "Unknown"; step++)
        {
            clock.Advance(TimeSpan.FromSeconds(5));
            if (step % 2 == 1) Renew(server, "renewing", clock.GetUtcNow());
            await Task.Delay(20);
        }

        var ready = Condition(server, "silent", "Ready");
        Assert.Equal(("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."), ((string?)ready["status"], (string?)ready["reason"], (string?)ready["message"]));
        Assert.Equal(silentSince, (string?)ready["lastHeartbeatTime"]);
        Assert.Equal("Unknown", (string?)Condition(server, "silent", "MemoryPressure")["status"]);
        var events = server.Store.List("events", "default").Where(e => (string?)e["reason"] == "NodeNotReady").ToList();
        var notReady = Assert.Single(events);
        Assert.Equal(("silent", "Node silent status is now: NodeNotReady", "node-controller"),
            ((string?)notReady["involvedObject"]!["name"], (string?)notReady["message"], (string?)notReady["source"]!["component"]));
        Assert.Equal(("True", "KubeletReady"), ((string?)Condition(server, "renewing", "Ready")["status"], (string?)Condition(server, "renewing", "Ready")["reason"]));
    }

    [Fact]
    public async Task Without_a_grace_period_no_node_is_marked_Unknown()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestObjects.StartServerAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki, TimeProvider = clock });
        server.Store.Create("nodes", ReadyNode("quiet", clock.GetUtcNow()));
        for (var step = 0; step < 40; step++)
        {
            clock.Advance(TimeSpan.FromSeconds(5));
            await Task.Delay(5);
        }
        Assert.Equal("True", (string?)Condition(server, "quiet", "Ready")["status"]);
    }
}
