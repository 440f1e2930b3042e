using System.Net;
using System.Text.Json.Nodes;

namespace KubeletPS.Core.Tests.TestCluster;

public sealed class RestSemanticsTests
{
    private const string Pods = "/api/v1/namespaces/default/pods";
    private const string Leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";

    [Fact]
    public async Task Create_sets_server_fields_and_second_create_conflicts()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var admin = ApiClient.Admin(server);

        var created = (await admin.PostAsync(Pods, TestObjects.Pod("web"))).Expect(HttpStatusCode.Created);
        var again = (await admin.PostAsync(Pods, TestObjects.Pod("web"))).Expect(HttpStatusCode.Conflict);

        Assert.True(Guid.TryParse(created["metadata.uid"], out _));
        Assert.True(long.Parse(created["metadata.resourceVersion"]!) > 0);
        Assert.EndsWith("Z", created["metadata.creationTimestamp"]);
        Assert.Equal("Pending", created["status.phase"]);
        Assert.Equal("Pod", created["kind"]);
        Assert.Equal("pods \"web\" already exists", again["message"]);
        Assert.Equal("AlreadyExists", again["reason"]);
        Assert.Equal("web", again["details.name"]);
        Assert.Equal("pods", again["details.kind"]);
    }

    [Fact]
    public async Task Resource_versions_increase_across_resources()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var admin = ApiClient.Admin(server);

        var a = (await admin.PostAsync(Pods, TestObjects.Pod("a"))).Expect(HttpStatusCode.Created);
        var lease = (await admin.PostAsync(Leases, TestObjects.Lease("n1", "n1"))).Expect(HttpStatusCode.Created);
        var b = (await admin.PostAsync(Pods, TestObjects.Pod("b"))).Expect(HttpStatusCode.Created);

        var rvs = new[] { a, lease, b }.Select(r => long.Parse(r["metadata.resourceVersion"]!)).ToArray();
        Assert.True(rvs[0] < rvs[1] && rvs[1] < rvs[2], string.Join(",", rvs));
    }

    [Fact]
    public async Task Get_missing_object_is_not_found_status()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var admin = ApiClient.Admin(server);

        var response = (await admin.GetAsync($"{Pods}/x")).Expect(HttpStatusCode.NotFound);

        var expected = JsonNode.Parse("""
            {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404}
            """);
        Assert.True(JsonNode.DeepEquals(expected, response.Json), response.Body);
    }

    [Fact]
    public async Task Create_in_missing_namespace_is_not_found()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var admin = ApiClient.Admin(server);

        var response = (await admin.PostAsync("/api/v1/namespaces/nope/pods", TestObjects.Pod("web", ns: "nope"))).Expect(HttpStatusCode.NotFound);

        Assert.Equal("namespaces \"nope\" not found", response["message"]);
    }

    [Fact]
    public async Task Update_with_stale_resource_version_conflicts()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var admin = ApiClient.Admin(server);
        var created = (await admin.PostAsync(Leases, TestObjects.Lease("n1", "n1"))).Expect(HttpStatusCode.Created).Json;

        var first = (JsonObject)created.DeepClone();
        first["spec"]!["leaseDurationSeconds"] = 10;
        var updated = (await admin.PutAsync($"{Leases}/n1", first)).Expect(HttpStatusCode.OK);
        var stale = (JsonObject)created.DeepClone();
        stale["spec"]!["leaseDurationSeconds"] = 20;
        var conflict = (await admin.PutAsync($"{Leases}/n1", stale)).Expect(HttpStatusCode.Conflict);

        Assert.NotEqual(created["metadata"]!["resourceVersion"]!.GetValue<string>(), updated["metadata.resourceVersion"]);
        Assert.Equal("Operation cannot be fulfilled on leases.coordination.k8s.io \"n1\": the object has been modified; please apply your changes to the latest version and try again", conflict["message"]);
        Assert.Equal("Conflict", conflict["reason"]);
        Assert.Equal("10", server.Store.Get("leases", "kube-node-lease", "n1")!["spec"]!["leaseDurationSeconds"]!.ToString());
    }

    [Fact]
    public async Task No_op_update_keeps_resource_version()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var admin = ApiClient.Admin(server);
        var created = (await admin.PostAsync(Leases, TestObjects.Lease("n1", "n1"))).Expect(HttpStatusCode.Created);

        var same = (await admin.PutAsync($"{Leases}/n1", created.Json)).Expect(HttpStatusCode.OK);

        Assert.Equal(created["metadata.resourceVersion"], same["metadata.resourceVersion"]);
    }

    [Fact]
    public async Task Strategic_merge_patch_merges_lists_by_key()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("nodes", TestObjects.Node("n1"));
        using var admin = ApiClient.Admin(server);

        var patched = (await admin.PatchAsync("/api/v1/nodes/n1/status", "application/strategic-merge-patch+json", """
            {"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady"},{"type":"DiskPressure","status":"False"}],
                       "addresses":[{"type":"InternalIP","address":"10.0.0.9"}]}}
            """)).Expect(HttpStatusCode.OK).Json;

        var conditions = patched["status"]!["conditions"]!.AsArray();
        Assert.Equal(["MemoryPressure", "Ready", "DiskPressure"], conditions.Select(c => c!["type"]!.GetValue<string>()));
        Assert.Equal("True", conditions[1]!["status"]!.GetValue<string>());
        Assert.Equal("KubeletHasSufficientMemory", conditions[0]!["reason"]!.GetValue<string>());
        var addresses = patched["status"]!["addresses"]!.AsArray();
        Assert.Equal(2, addresses.Count);
        Assert.Equal("10.0.0.9", addresses[0]!["address"]!.GetValue<string>());
    }

    [Fact]
    public void Strategic_merge_patch_replaces_container_statuses_whole()
    {
        // The API types give containerStatuses no patch strategy: a state that went from waiting to
        // running must not keep "waiting" (kubectl would print the waiting reason).
        var pod = JsonNode.Parse("""
            {"status":{"conditions":[{"type":"Ready","status":"False"}],
                       "containerStatuses":[{"name":"app","ready":false,"state":{"waiting":{"reason":"PodInitializing"}}}]}}
            """);
        var patched = KubeletPS.TestCluster.Storage.StrategicMergePatch.Apply(pod, JsonNode.Parse("""
            {"status":{"conditions":[{"type":"Ready","status":"True"}],
                       "containerStatuses":[{"name":"app","ready":true,"state":{"running":{"startedAt":"2026-11-29T18:00:00Z"}}}]}}
            """))!;
        var state = patched["status"]!["containerStatuses"]!.AsArray().Single()!["state"]!.AsObject();
        Assert.Equal(["running"], state.Select(p => p.Key));
        Assert.Equal("True", (string?)patched["status"]!["conditions"]![0]!["status"]);
    }

    [Fact]
    public async Task Merge_patch_replaces_lists_and_null_deletes()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("nodes", TestObjects.Node("n1"));
        using var admin = ApiClient.Admin(server);

        var patched = (await admin.PatchAsync("/api/v1/nodes/n1/status", "application/merge-patch+json",
            """{"metadata":{"labels":{"kubernetes.io/hostname":null}},"status":{"conditions":[{"type":"Ready","status":"True"}]}}""")).Expect(HttpStatusCode.OK).Json;

        Assert.Single(patched["status"]!["conditions"]!.AsArray());
        // The status subresource ignores metadata changes.
        Assert.NotNull(patched["metadata"]!["labels"]!["kubernetes.io/hostname"]);
    }

    [Fact]
    public async Task Json_patch_applies_operations_and_fails_on_test()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var admin = ApiClient.Admin(server);
        (await admin.PostAsync(Leases, TestObjects.Lease("n1", "n1"))).Expect(HttpStatusCode.Created);

        var patched = (await admin.PatchAsync($"{Leases}/n1", "application/json-patch+json", """
            [{"op":"test","path":"/spec/holderIdentity","value":"n1"},
             {"op":"replace","path":"/spec/holderIdentity","value":"n2"},
             {"op":"add","path":"/metadata/labels","value":{"a":"b"}},
             {"op":"remove","path":"/spec/leaseDurationSeconds"}]
            """)).Expect(HttpStatusCode.OK);
        var failed = (await admin.PatchAsync($"{Leases}/n1", "application/json-patch+json",
            """[{"op":"test","path":"/spec/holderIdentity","value":"n1"},{"op":"replace","path":"/spec/holderIdentity","value":"n3"}]"""))
            .Expect(HttpStatusCode.UnprocessableEntity);

        Assert.Equal("n2", patched["spec.holderIdentity"]);
        Assert.Equal("b", patched["metadata.labels.a"]);
        Assert.Null(patched["spec.leaseDurationSeconds"]);
        Assert.Equal("Invalid", failed["reason"]);
        Assert.Equal("n2", server.Store.Get("leases", "kube-node-lease", "n1")!["spec"]!["holderIdentity"]!.GetValue<string>());
    }

    [Fact]
    public async Task Apply_patch_is_unsupported_media_type()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("nodes", TestObjects.Node("n1"));
        using var admin = ApiClient.Admin(server);

        var response = (await admin.PatchAsync("/api/v1/nodes/n1", "application/apply-patch+yaml", "{}")).Expect(HttpStatusCode.UnsupportedMediaType);

        Assert.Equal("UnsupportedMediaType", response["reason"]);
    }

    [Fact]
    public async Task Status_subresource_is_isolated_from_spec()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("pods", TestObjects.Pod("web", "n1"));
        using var admin = ApiClient.Admin(server);
        var pod = (await admin.GetAsync($"{Pods}/web")).Expect(HttpStatusCode.OK).Json;

        var main = (JsonObject)pod.DeepClone();
        main["status"]!["phase"] = "Running";
        main["spec"]!["activeDeadlineSeconds"] = 60;
        var afterMain = (await admin.PutAsync($"{Pods}/web", main)).Expect(HttpStatusCode.OK);
        var status = afterMain.Json;
        status["status"]!["phase"] = "Running";
        status["spec"]!["activeDeadlineSeconds"] = 120;
        var afterStatus = (await admin.PutAsync($"{Pods}/web/status", status)).Expect(HttpStatusCode.OK);

        Assert.Equal("Pending", afterMain["status.phase"]);
        Assert.Equal("60", afterMain["spec.activeDeadlineSeconds"]);
        Assert.Equal("Running", afterStatus["status.phase"]);
        Assert.Equal("60", afterStatus["spec.activeDeadlineSeconds"]);
    }

    [Fact]
    public async Task List_filters_by_label_and_field_selectors()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("pods", TestObjects.Pod("a", "n1", labels: new JsonObject { ["app"] = "web", ["tier"] = "front" }));
        server.Store.Create("pods", TestObjects.Pod("b", "n2", labels: new JsonObject { ["app"] = "web" }));
        server.Store.Create("pods", TestObjects.Pod("c", "n1", labels: new JsonObject { ["app"] = "db" }));
        server.Store.Create("pods", TestObjects.Pod("d", "n1", ns: "kube-system"));
        using var admin = ApiClient.Admin(server);

        async Task<string[]> Names(string query)
        {
            var list = (await admin.GetAsync(query)).Expect(HttpStatusCode.OK);
            Assert.Equal("PodList", list["kind"]);
            Assert.NotNull(list["metadata.resourceVersion"]);
            return list.Json["items"]!.AsArray().Select(i => i!["metadata"]!["name"]!.GetValue<string>()).ToArray();
        }

        Assert.Equal(["a", "b"], await Names($"{Pods}?labelSelector=app%3Dweb"));
        Assert.Equal(["a", "b"], await Names($"{Pods}?labelSelector=app%20in%20(web,cache)"));
        Assert.Equal(["c"], await Names($"{Pods}?labelSelector=app!%3Dweb"));
        Assert.Equal(["b", "c"], await Names($"{Pods}?labelSelector=!tier"));
        Assert.Equal(["a"], await Names($"{Pods}?labelSelector=app%3D%3Dweb,tier"));
        Assert.Equal(["c"], await Names($"{Pods}?labelSelector=app%20notin%20(web)"));
        Assert.Equal(["a", "c"], await Names($"{Pods}?fieldSelector=spec.nodeName%3Dn1"));
        Assert.Equal(["d", "a", "c"], (await Names("/api/v1/pods?fieldSelector=spec.nodeName%3Dn1")).OrderBy(n => n == "d" ? 0 : 1).ToArray());
        Assert.Equal(["a", "b", "c"], await Names($"{Pods}?fieldSelector=status.phase%3DPending"));
        Assert.Equal(["b"], await Names($"{Pods}?fieldSelector=metadata.name%3Db"));
        var bad = (await admin.GetAsync($"{Pods}?fieldSelector=spec.foo%3Dx")).Expect(HttpStatusCode.BadRequest);
        Assert.Equal("field label not supported: spec.foo", bad["message"]);
    }

    [Fact]
    public async Task List_pages_with_limit_and_continue()
    {
        await using var server = await TestObjects.StartServerAsync();
        foreach (var n in new[] { "a", "b", "c" }) server.Store.Create("pods", TestObjects.Pod(n));
        using var admin = ApiClient.Admin(server);

        var first = (await admin.GetAsync($"{Pods}?limit=2")).Expect(HttpStatusCode.OK);
        var second = (await admin.GetAsync($"{Pods}?limit=2&continue={Uri.EscapeDataString(first["metadata.continue"]!)}")).Expect(HttpStatusCode.OK);

        Assert.Equal(2, first.Json["items"]!.AsArray().Count);
        Assert.Equal("1", first["metadata.remainingItemCount"]);
        Assert.Equal("c", second["items.0.metadata.name"]);
        Assert.Null(second["metadata.continue"]);
    }

    [Fact]
    public async Task Events_select_by_involved_object()
    {
        await using var server = await TestObjects.StartServerAsync();
        foreach (var (name, target) in new[] { ("e1", "web"), ("e2", "db") })
        {
            server.Store.Create("events", new JsonObject
            {
                ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default" },
                ["involvedObject"] = new JsonObject { ["kind"] = "Pod", ["name"] = target, ["namespace"] = "default" },
                ["reason"] = "Pulled",
            });
        }
        using var admin = ApiClient.Admin(server);

        var list = (await admin.GetAsync("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Ddb,involvedObject.kind%3DPod")).Expect(HttpStatusCode.OK);

        Assert.Equal("e2", list["items.0.metadata.name"]);
        Assert.Single(list.Json["items"]!.AsArray());
    }

    [Fact]
    public async Task Service_account_token_request_returns_token()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var admin = ApiClient.Admin(server);

        var response = (await admin.PostAsync("/api/v1/namespaces/default/serviceaccounts/default/token",
            JsonNode.Parse("""{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"audiences":["api"],"expirationSeconds":3600}}""")!.AsObject()))
            .Expect(HttpStatusCode.Created);

        Assert.Equal("TokenRequest", response["kind"]);
        Assert.Equal(3, response["status.token"]!.Split('.').Length);
        Assert.NotNull(response["status.expirationTimestamp"]);
    }

    [Fact]
    public async Task Token_request_needs_the_service_account_and_the_bound_pod_with_its_uid()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var admin = ApiClient.Admin(server);
        var pod = server.Store.Create("pods", JsonNode.Parse("""{"metadata":{"name":"web","namespace":"default"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}""")!.AsObject());
        var uid = (string)pod["metadata"]!["uid"]!;
        JsonObject Request(string podName, string podUid) => JsonNode.Parse("""
            {"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3607,
             "boundObjectRef":{"apiVersion":"v1","kind":"Pod","name":"NAME","uid":"UID"}}}
            """.Replace("NAME", podName).Replace("UID", podUid))!.AsObject();

        var missing = await admin.PostAsync("/api/v1/namespaces/default/serviceaccounts/builder/token", Request("web", uid));
        missing.Expect(HttpStatusCode.NotFound);
        Assert.Equal("serviceaccounts \"builder\" not found", missing["message"]);
        (await admin.PostAsync("/api/v1/namespaces/default/serviceaccounts/default/token", Request("gone", uid))).Expect(HttpStatusCode.NotFound);
        (await admin.PostAsync("/api/v1/namespaces/default/serviceaccounts/default/token", Request("web", "other-uid"))).Expect(HttpStatusCode.Conflict);

        var issued = (await admin.PostAsync("/api/v1/namespaces/default/serviceaccounts/default/token", Request("web", uid))).Expect(HttpStatusCode.Created);
        Assert.Equal("3607", issued["spec.expirationSeconds"]);
        var payload = issued["status.token"]!.Split('.')[1].Replace('-', '+').Replace('_', '/');
        var claims = JsonNode.Parse(Convert.FromBase64String(payload.PadRight(payload.Length + (4 - payload.Length % 4) % 4, '=')))!;
        Assert.Equal(uid, (string?)claims["kubernetes.io"]?["pod"]?["uid"]);
    }

    [Fact]
    public async Task Every_namespace_gets_the_root_ca_config_map()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("namespaces", JsonNode.Parse("""{"metadata":{"name":"shop"}}""")!.AsObject());
        foreach (var ns in new[] { "default", "kube-system", "shop" })
            Assert.Equal(server.CaPem, (string?)server.Store.Get("configmaps", ns, "kube-root-ca.crt")?["data"]?["ca.crt"]);
        Assert.NotNull(server.Store.Get("serviceaccounts", "shop", "default"));
    }
}
