using System.Net;

namespace KubeletPS.Core.Tests.TestCluster;

public sealed class FaultInjectionTests
{
    [Fact]
    public async Task Fail_next_answers_injected_status_then_recovers()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var admin = ApiClient.Admin(server);
        server.Faults.FailNext(2, 503, pathContains: "/nodes");

        var unrelated = await admin.GetAsync("/api/v1/namespaces");
        var first = await admin.GetAsync("/api/v1/nodes");
        var second = await admin.GetAsync("/api/v1/nodes");
        var third = await admin.GetAsync("/api/v1/nodes");

        unrelated.Expect(HttpStatusCode.OK);
        first.Expect(HttpStatusCode.ServiceUnavailable);
        Assert.Equal("ServiceUnavailable", first["reason"]);
        Assert.Equal(TimeSpan.FromSeconds(1), first.RetryAfter);
        Assert.Equal("1", first["details.retryAfterSeconds"]);
        second.Expect(HttpStatusCode.ServiceUnavailable);
        third.Expect(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Injected_conflict_looks_like_stale_update()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("leases", TestObjects.Lease("n1", "n1"));
        using var node = ApiClient.Node(server, "n1");
        server.Faults.FailNext(1, 409);

        var response = (await node.PutAsync("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1", server.Store.Get("leases", "kube-node-lease", "n1")!))
            .Expect(HttpStatusCode.Conflict);

        Assert.Equal("Operation cannot be fulfilled on leases.coordination.k8s.io \"n1\": the object has been modified; please apply your changes to the latest version and try again", response["message"]);
    }

    [Fact]
    public async Task Refused_connections_fail_at_transport_level_until_cleared()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var admin = ApiClient.Admin(server);
        (await admin.GetAsync("/api")).Expect(HttpStatusCode.OK);

        server.Faults.RefuseConnections();
        await AssertTransportFailureAsync(() => admin.GetAsync("/api"));
        using (var fresh = ApiClient.Admin(server))
        {
            await AssertTransportFailureAsync(() => fresh.GetAsync("/api"));
        }
        server.Faults.AcceptConnections();

        using var again = ApiClient.Admin(server);
        (await again.GetAsync("/api")).Expect(HttpStatusCode.OK);
    }

    /// <summary>
    /// The request fails below HTTP: usually an HttpRequestException, but when the connection is
    /// reset just after connecting, .NET's connection pool lets the raw SocketException through.
    /// </summary>
    private static async Task AssertTransportFailureAsync(Func<Task> request)
    {
        var e = await Assert.ThrowsAnyAsync<Exception>(request);
        Assert.True(e is HttpRequestException or System.Net.Sockets.SocketException, $"expected a transport failure, got {e.GetType().Name}: {e.Message}");
    }

    [Fact]
    public async Task Refusing_for_a_duration_ends_by_itself()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Faults.RefuseConnections(TimeSpan.FromSeconds(2));
        using (var during = ApiClient.Admin(server))
        {
            await AssertTransportFailureAsync(() => during.GetAsync("/api"));
        }

        await Task.Delay(2100);

        using var after = ApiClient.Admin(server);
        (await after.GetAsync("/api")).Expect(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Drop_watches_ends_open_streams_abruptly()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var admin = ApiClient.Admin(server);
        using var response = await admin.Http.GetAsync($"/api/v1/pods?watch=true&resourceVersion={server.Store.ResourceVersion}", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var read = reader.ReadLineAsync();
        await WaitUntilAsync(() => server.Store.OpenWatchCount == 1);

        server.Faults.DropWatches();

        await Assert.ThrowsAnyAsync<IOException>(() => read.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, server.Store.OpenWatchCount);
    }

    [Fact]
    public async Task Server_stops_and_resumes_on_same_port_keeping_state()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("nodes", TestObjects.Node("n1"));
        var port = server.Port;

        await server.StopListeningAsync();
        using (var down = ApiClient.Admin(server))
        {
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => down.GetAsync("/api/v1/nodes/n1"));
        }
        await server.ResumeListeningAsync();

        Assert.Equal(port, server.Port);
        using var up = ApiClient.Admin(server);
        (await up.GetAsync("/api/v1/nodes/n1")).Expect(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Request_log_counts_by_verb_and_resource()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("nodes", TestObjects.Node("n1"));
        using var node = ApiClient.Node(server, "n1");

        for (var i = 0; i < 3; i++)
            await node.PatchAsync("/api/v1/nodes/n1/status", "application/strategic-merge-patch+json", "{\"metadata\":{\"annotations\":{\"i\":\"" + i + "\"}}}");
        await node.GetAsync("/api/v1/nodes/n1");
        await node.GetAsync("/api/v1/nodes");

        Assert.Equal(3, server.RequestLog.Count("patch", "nodes/status"));
        Assert.Equal(1, server.RequestLog.Count("get", "nodes"));
        Assert.Equal(1, server.RequestLog.Count("list", "nodes"));
        Assert.Equal(3, server.RequestLog.CountsByVerbAndResource()["patch nodes/status"]);
        Assert.All(server.RequestLog.Entries, e => Assert.Equal("system:node:n1", e.User));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(20);
        }
    }
}
