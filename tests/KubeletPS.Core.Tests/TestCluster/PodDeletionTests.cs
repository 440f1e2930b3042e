using System.Net;
using System.Text.Json.Nodes;

namespace KubeletPS.Core.Tests.TestCluster;

public sealed class PodDeletionTests
{
    private const string Pods = "/api/v1/namespaces/default/pods";

    [Fact]
    public async Task Bound_pod_is_marked_for_graceful_deletion_then_removed_with_grace_zero()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("pods", TestObjects.Pod("web", "n1"));
        using var admin = ApiClient.Admin(server);
        using var node = ApiClient.Node(server, "n1");

        var marked = (await admin.DeleteAsync($"{Pods}/web")).Expect(HttpStatusCode.OK);
        var stillThere = (await admin.GetAsync($"{Pods}/web")).Expect(HttpStatusCode.OK);
        var removed = (await node.DeleteAsync($"{Pods}/web", new JsonObject
        {
            ["kind"] = "DeleteOptions",
            ["apiVersion"] = "v1",
            ["gracePeriodSeconds"] = 0,
            ["preconditions"] = new JsonObject { ["uid"] = marked["metadata.uid"] },
        })).Expect(HttpStatusCode.OK);

        Assert.Equal("30", marked["metadata.deletionGracePeriodSeconds"]);
        var deletionTimestamp = DateTimeOffset.Parse(marked["metadata.deletionTimestamp"]!);
        Assert.InRange(deletionTimestamp - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(31));
        Assert.Equal(marked["metadata.deletionTimestamp"], stillThere["metadata.deletionTimestamp"]);
        Assert.Equal("web", removed["metadata.name"]);
        (await admin.GetAsync($"{Pods}/web")).Expect(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Grace_period_comes_from_options_or_spec_and_only_shortens()
    {
        await using var server = await TestObjects.StartServerAsync();
        var pod = TestObjects.Pod("web", "n1");
        pod["spec"]!["terminationGracePeriodSeconds"] = 5;
        server.Store.Create("pods", pod);
        using var admin = ApiClient.Admin(server);

        var first = (await admin.DeleteAsync($"{Pods}/web")).Expect(HttpStatusCode.OK);
        var longer = (await admin.DeleteAsync($"{Pods}/web?gracePeriodSeconds=60")).Expect(HttpStatusCode.OK);
        var shorter = (await admin.DeleteAsync($"{Pods}/web", new JsonObject { ["gracePeriodSeconds"] = 2 })).Expect(HttpStatusCode.OK);

        Assert.Equal("5", first["metadata.deletionGracePeriodSeconds"]);
        Assert.Equal("5", longer["metadata.deletionGracePeriodSeconds"]);
        Assert.Equal("2", shorter["metadata.deletionGracePeriodSeconds"]);
    }

    [Fact]
    public async Task Unscheduled_pod_is_removed_at_once()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("pods", TestObjects.Pod("pending"));
        using var admin = ApiClient.Admin(server);

        (await admin.DeleteAsync($"{Pods}/pending")).Expect(HttpStatusCode.OK);

        Assert.Null(server.Store.Get("pods", "default", "pending"));
    }

    [Fact]
    public async Task Precondition_on_uid_conflicts()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("pods", TestObjects.Pod("web", "n1"));
        using var admin = ApiClient.Admin(server);

        var response = (await admin.DeleteAsync($"{Pods}/web", new JsonObject { ["gracePeriodSeconds"] = 0, ["preconditions"] = new JsonObject { ["uid"] = "other" } }))
            .Expect(HttpStatusCode.Conflict);

        Assert.StartsWith("Operation cannot be fulfilled on pods \"web\": Precondition failed: UID in precondition: other", response["message"]);
        Assert.NotNull(server.Store.Get("pods", "default", "web"));
    }

    [Fact]
    public async Task Finalizers_hold_deletion_until_removed()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("configmaps", new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "cfg", ["namespace"] = "default", ["finalizers"] = new JsonArray("example.com/hold") },
        });
        using var admin = ApiClient.Admin(server);

        var marked = (await admin.DeleteAsync("/api/v1/namespaces/default/configmaps/cfg")).Expect(HttpStatusCode.OK);
        Assert.NotNull(marked["metadata.deletionTimestamp"]);
        Assert.NotNull(server.Store.Get("configmaps", "default", "cfg"));

        (await admin.PatchAsync("/api/v1/namespaces/default/configmaps/cfg", "application/merge-patch+json", """{"metadata":{"finalizers":null}}""")).Expect(HttpStatusCode.OK);

        Assert.Null(server.Store.Get("configmaps", "default", "cfg"));
    }

    [Fact]
    public async Task Deleting_other_resources_answers_success_status()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("configmaps", new JsonObject { ["metadata"] = new JsonObject { ["name"] = "cfg", ["namespace"] = "default" } });
        using var admin = ApiClient.Admin(server);

        var response = (await admin.DeleteAsync("/api/v1/namespaces/default/configmaps/cfg")).Expect(HttpStatusCode.OK);

        Assert.Equal("Status", response["kind"]);
        Assert.Equal("Success", response["status"]);
        Assert.Equal("cfg", response["details.name"]);
    }
}
