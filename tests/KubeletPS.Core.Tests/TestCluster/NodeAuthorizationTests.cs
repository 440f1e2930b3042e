using System.Net;
using System.Text.Json.Nodes;

namespace KubeletPS.Core.Tests.TestCluster;

public sealed class NodeAuthorizationTests
{
    [Fact]
    public async Task Node_registers_and_patches_its_own_node()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var node = ApiClient.Node(server, "worker-1");

        (await node.PostAsync("/api/v1/nodes", TestObjects.Node("worker-1"))).Expect(HttpStatusCode.Created);
        var patched = (await node.PatchAsync("/api/v1/nodes/worker-1/status", "application/strategic-merge-patch+json",
            """{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady"}]}}""")).Expect(HttpStatusCode.OK);

        Assert.Equal("True", patched["status.conditions.1.status"]);
        (await node.GetAsync("/api/v1/nodes")).Expect(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Node_may_not_create_or_modify_another_node()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("nodes", TestObjects.Node("worker-2"));
        using var node = ApiClient.Node(server, "worker-1");

        var create = (await node.PostAsync("/api/v1/nodes", TestObjects.Node("worker-3"))).Expect(HttpStatusCode.Forbidden);
        var patch = (await node.PatchAsync("/api/v1/nodes/worker-2/status", "application/merge-patch+json", """{"status":{"phase":"x"}}""")).Expect(HttpStatusCode.Forbidden);

        Assert.Equal("nodes \"worker-3\" is forbidden: node \"worker-1\" is not allowed to modify node \"worker-3\"", create["message"]);
        Assert.Equal("nodes \"worker-2\" is forbidden: node \"worker-1\" is not allowed to modify node \"worker-2\"", patch["message"]);
        Assert.Equal("Forbidden", patch["reason"]);
        Assert.Null(server.Store.Get("nodes", null, "worker-3"));
    }

    [Fact]
    public async Task Node_uses_only_its_own_lease()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var node = ApiClient.Node(server, "worker-1");
        const string leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";

        (await node.PostAsync(leases, TestObjects.Lease("worker-1", "worker-1"))).Expect(HttpStatusCode.Created);
        (await node.GetAsync($"{leases}/worker-1")).Expect(HttpStatusCode.OK);
        var create = (await node.PostAsync(leases, TestObjects.Lease("worker-2", "worker-1"))).Expect(HttpStatusCode.Forbidden);
        var get = (await node.GetAsync($"{leases}/worker-2")).Expect(HttpStatusCode.Forbidden);
        var elsewhere = (await node.GetAsync("/apis/coordination.k8s.io/v1/namespaces/default/leases/worker-1")).Expect(HttpStatusCode.Forbidden);

        Assert.Contains("can only access node lease with the same name as the requesting node", create["message"]);
        Assert.Equal("leases.coordination.k8s.io \"worker-2\" is forbidden: User \"system:node:worker-1\" cannot get resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"kube-node-lease\": can only access node lease with the same name as the requesting node", get["message"]);
        Assert.Equal("Forbidden", elsewhere["reason"]);
    }

    [Fact]
    public async Task Node_updates_status_and_deletes_only_pods_bound_to_it()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("pods", TestObjects.Pod("mine", "worker-1"));
        server.Store.Create("pods", TestObjects.Pod("theirs", "worker-2"));
        using var node = ApiClient.Node(server, "worker-1");
        const string running = """{"status":{"phase":"Running"}}""";

        (await node.PatchAsync("/api/v1/namespaces/default/pods/mine/status", "application/strategic-merge-patch+json", running)).Expect(HttpStatusCode.OK);
        var other = (await node.PatchAsync("/api/v1/namespaces/default/pods/theirs/status", "application/strategic-merge-patch+json", running)).Expect(HttpStatusCode.Forbidden);
        var delete = (await node.DeleteAsync("/api/v1/namespaces/default/pods/theirs")).Expect(HttpStatusCode.Forbidden);
        var spec = (await node.PatchAsync("/api/v1/namespaces/default/pods/mine", "application/merge-patch+json", """{"metadata":{"labels":{"a":"b"}}}""")).Expect(HttpStatusCode.Forbidden);

        Assert.Equal("pods \"theirs\" is forbidden: node \"worker-1\" can only update pod status for pods with spec.nodeName set to itself", other["message"]);
        Assert.Equal("pods \"theirs\" is forbidden: node \"worker-1\" can only delete pods with spec.nodeName set to itself", delete["message"]);
        Assert.Contains("cannot patch resource \"pods\"", spec["message"]);
        Assert.Equal("Running", server.Store.Get("pods", "default", "mine")!["status"]!["phase"]!.GetValue<string>());
        Assert.Equal("Pending", server.Store.Get("pods", "default", "theirs")!["status"]!["phase"]!.GetValue<string>());
    }

    [Fact]
    public async Task Node_creates_only_mirror_pods_bound_to_itself()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var node = ApiClient.Node(server, "worker-1");
        JsonObject Mirror(string name, string nodeName)
        {
            var pod = TestObjects.Pod(name, nodeName, "kube-system");
            pod["metadata"]!["annotations"] = new JsonObject { ["kubernetes.io/config.mirror"] = "abc123" };
            return pod;
        }

        (await node.PostAsync("/api/v1/namespaces/kube-system/pods", Mirror("etcd-worker-1", "worker-1"))).Expect(HttpStatusCode.Created);
        var plain = (await node.PostAsync("/api/v1/namespaces/default/pods", TestObjects.Pod("plain", "worker-1"))).Expect(HttpStatusCode.Forbidden);
        var elsewhere = (await node.PostAsync("/api/v1/namespaces/kube-system/pods", Mirror("etcd-worker-2", "worker-2"))).Expect(HttpStatusCode.Forbidden);

        Assert.Equal("pods \"plain\" is forbidden: pod does not have \"kubernetes.io/config.mirror\" annotation, node \"worker-1\" can only create mirror pods", plain["message"]);
        Assert.Equal("pods \"etcd-worker-2\" is forbidden: node \"worker-1\" can only create pods with spec.nodeName set to itself", elsewhere["message"]);
    }

    [Fact]
    public async Task Node_creates_events_and_reads_config_maps_but_not_namespaces()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("configmaps", new JsonObject { ["metadata"] = new JsonObject { ["name"] = "cfg", ["namespace"] = "default" }, ["data"] = new JsonObject { ["k"] = "v" } });
        // The Node authorizer lets a node read a configmap a pod bound to it uses (NodeObjectAuthorizationTests attacks the rest).
        var pod = TestObjects.Pod("uses-cfg", "worker-1");
        pod["spec"]!["volumes"] = new JsonArray(new JsonObject { ["name"] = "c", ["configMap"] = new JsonObject { ["name"] = "cfg" } });
        server.Store.Create("pods", pod);
        using var node = ApiClient.Node(server, "worker-1");
        var ev = new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "worker-1.1" },
            ["involvedObject"] = new JsonObject { ["kind"] = "Node", ["name"] = "worker-1" },
            ["reason"] = "Starting",
            ["type"] = "Normal",
        };

        (await node.PostAsync("/api/v1/namespaces/default/events", ev)).Expect(HttpStatusCode.Created);
        (await node.GetAsync("/api/v1/namespaces/default/configmaps/cfg")).Expect(HttpStatusCode.OK);
        (await node.GetAsync("/api/v1/namespaces")).Expect(HttpStatusCode.Forbidden);
        (await node.DeleteAsync("/api/v1/namespaces/default/configmaps/cfg")).Expect(HttpStatusCode.Forbidden);
    }
    [Fact]
    public async Task Node_gets_only_secrets_referenced_by_pods_bound_to_it()
    {
        // Attack: a node reads a secret no pod of its own references (another node's pull secret).
        await using var server = await TestObjects.StartServerAsync();
        foreach (var name in new[] { "mine", "theirs", "unused" })
            server.Store.Create("secrets", new JsonObject { ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default" }, ["data"] = new JsonObject { ["k"] = "dg==" } });
        JsonObject Pod(string name, string nodeName, string secret) => new()
        {
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default" },
            ["spec"] = new JsonObject
            {
                ["nodeName"] = nodeName,
                ["imagePullSecrets"] = new JsonArray(new JsonObject { ["name"] = secret }),
                ["containers"] = new JsonArray(new JsonObject { ["name"] = "c", ["image"] = "busybox" }),
            },
        };
        server.Store.Create("pods", Pod("a", "worker-1", "mine"));
        server.Store.Create("pods", Pod("b", "worker-2", "theirs"));
        using var node = ApiClient.Node(server, "worker-1");

        (await node.GetAsync("/api/v1/namespaces/default/secrets/mine")).Expect(HttpStatusCode.OK);
        (await node.GetAsync("/api/v1/namespaces/default/secrets/theirs")).Expect(HttpStatusCode.Forbidden);
        (await node.GetAsync("/api/v1/namespaces/default/secrets/unused")).Expect(HttpStatusCode.Forbidden);
        (await node.GetAsync("/api/v1/namespaces/kube-system/secrets/mine")).Expect(HttpStatusCode.Forbidden);
    }
}
