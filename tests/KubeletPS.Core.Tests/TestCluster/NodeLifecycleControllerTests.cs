using System.Net;
using System.Text.Json.Nodes;

namespace KubeletPS.Core.Tests.TestCluster;

/// <summary>The test API server's TaintNodesByCondition: pressure taints follow the node's conditions, other taints stay.</summary>
public sealed class NodeLifecycleControllerTests
{
    private static string[] Taints(JsonNode node) =>
        (node["spec"]?["taints"] as JsonArray ?? []).Select(t => $"{t!["key"]}:{t["effect"]}").Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task A_node_reporting_pressure_gets_the_NoSchedule_taint_and_loses_it_when_the_condition_clears()
    {
        await using var server = await TestObjects.StartServerAsync();
        var node = TestObjects.Node("n1");
        node["spec"] = JsonNode.Parse("""{"taints":[{"key":"dedicated","value":"db","effect":"NoSchedule"}]}""");
        server.Store.Create("nodes", node);
        using var admin = ApiClient.Admin(server);

        var patched = (await admin.PatchAsync("/api/v1/nodes/n1/status", "application/strategic-merge-patch+json", """
            {"status":{"conditions":[{"type":"MemoryPressure","status":"True","reason":"KubeletHasInsufficientMemory"},{"type":"PIDPressure","status":"True"}]}}
            """)).Expect(HttpStatusCode.OK).Json;
        Assert.Equal(["dedicated:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule", "node.kubernetes.io/pid-pressure:NoSchedule"], Taints(patched));
        Assert.Equal(Taints(patched), Taints(server.Store.Get("nodes", null, "n1")!));

        (await admin.PatchAsync("/api/v1/nodes/n1/status", "application/strategic-merge-patch+json", """
            {"status":{"conditions":[{"type":"MemoryPressure","status":"False","reason":"KubeletHasSufficientMemory"},{"type":"PIDPressure","status":"True"}]}}
            """)).Expect(HttpStatusCode.OK);
        Assert.Equal(["dedicated:NoSchedule", "node.kubernetes.io/pid-pressure:NoSchedule"], Taints(server.Store.Get("nodes", null, "n1")!));
    }
}
