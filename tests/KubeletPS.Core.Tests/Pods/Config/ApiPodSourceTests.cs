using System.Text.Json.Nodes;
using KubeletPS.Core.Pods.Config;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Pods.Config;

public sealed class ApiPodSourceTests : IAsyncLifetime
{
    private TestApiServer _server = null!;
    private readonly CancellationTokenSource _stop = new();
    private readonly ListLog _log = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _stop.Cancel();
        if (_server is not null) await _server.DisposeAsync();
    }

    private async Task StartServerAsync(bool bookmarks = true) => _server = await TestApiServer.StartAsync(bookmarks
        ? new TestApiServerOptions { BookmarkInterval = TimeSpan.FromMilliseconds(200) }
        : new TestApiServerOptions());

    private void CreatePod(string name, string? node = "node-a", string ns = "default") =>
        _server.Store.Create("pods", JsonNode.Parse($$$"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"{{{name}}}","namespace":"{{{ns}}}"},
             "spec":{{{{(node is null ? "" : $"\"nodeName\":\"{node}\",")}}}"containers":[{"name":"c","image":"busybox"}]}}
            """)!.AsObject());

    /// <summary>Runs the source in the background and keeps every snapshot it yields.</summary>
    private sealed class Collector
    {
        private readonly List<PodSourceSnapshot> _snapshots = [];
        public Task Run { get; private set; } = Task.CompletedTask;

        public static Collector Start(IPodSource source, CancellationToken cancellationToken)
        {
            var c = new Collector();
            c.Run = Task.Run(async () =>
            {
                try
                {
                    await foreach (var s in source.WatchAsync(cancellationToken)) lock (c._snapshots) c._snapshots.Add(s);
                }
                catch (OperationCanceledException) { }
            });
            return c;
        }

        public IReadOnlyList<PodSourceSnapshot> Snapshots { get { lock (_snapshots) return _snapshots.ToList(); } }
        public PodSourceSnapshot? Latest => Snapshots.LastOrDefault();
        public IReadOnlyList<string> LatestNames => Latest?.Pods.Select(p => p.Metadata.Name).Order().ToList() ?? [];
    }

    private (ApiPodSource Source, Collector Collector) Start(string node = "node-a")
    {
        var (client, identity) = TestApiClients.ForNode(_server, node);
        var source = new ApiPodSource(client, identity, node, _log);
        return (source, Collector.Start(source, _stop.Token));
    }

    [Fact]
    public async Task Pods_bound_to_the_node_appear_and_others_do_not()
    {
        await StartServerAsync();
        CreatePod("mine");
        CreatePod("mine-too", ns: "kube-system");
        CreatePod("theirs", node: "node-b");
        CreatePod("unscheduled", node: null);
        var (_, collector) = Start();

        await TestApiClients.WaitUntilAsync(() => collector.Latest is not null, "the first snapshot");
        Assert.Equal(["mine", "mine-too"], collector.LatestNames);
        var snapshot = collector.Latest!;
        Assert.Equal("api", snapshot.Source);
        Assert.All(snapshot.Pods, p => Assert.Equal("api", p.Metadata.Annotations[PodAnnotations.ConfigSource]));
    }

    [Fact]
    public async Task Adds_changes_and_deletions_are_reflected_and_bookmarks_advance_the_resource_version()
    {
        await StartServerAsync();
        var (source, collector) = Start();
        await TestApiClients.WaitUntilAsync(() => collector.Latest is not null, "the first (empty) snapshot");
        Assert.Empty(collector.Latest!.Pods);

        CreatePod("web");
        await TestApiClients.WaitUntilAsync(() => collector.LatestNames.SequenceEqual(["web"]), "web appeared");
        _server.Store.Update("pods", "default", "web", p => p["metadata"]!["labels"] = new JsonObject { ["tier"] = "front" });
        await TestApiClients.WaitUntilAsync(() => collector.Latest!.Pods.Single().Metadata.Labels?.ContainsKey("tier") == true, "web's label arrived");
        CreatePod("other-node", node: "node-b");
        _server.Store.Delete("pods", "default", "web");
        await TestApiClients.WaitUntilAsync(() => collector.Latest!.Pods.Count == 0, "web was removed");

        // A change elsewhere: only a bookmark tells this watch that time has moved on.
        _server.Store.Create("configmaps", JsonNode.Parse("""{"metadata":{"name":"cm","namespace":"default"}}""")!.AsObject());
        await TestApiClients.WaitUntilAsync(() => source.LastResourceVersion == _server.Store.ResourceVersion.ToString(), "a bookmark advanced the resourceVersion");
        Assert.DoesNotContain(collector.Snapshots, s => s.Pods.Any(p => p.Metadata.Name == "other-node"));
    }

    [Fact]
    public async Task A_dropped_watch_resumes_from_the_last_resource_version_without_a_relist()
    {
        await StartServerAsync();
        CreatePod("a");
        CreatePod("b");
        var (_, collector) = Start();
        await TestApiClients.WaitUntilAsync(() => collector.LatestNames.Count == 2, "both pods listed");
        var watches = _server.RequestLog.Count("watch", "pods");

        _server.Faults.DropWatches();
        await TestApiClients.WaitUntilAsync(() => _server.RequestLog.Count("watch", "pods") > watches, "the watch was reopened");
        CreatePod("c");
        await TestApiClients.WaitUntilAsync(() => collector.LatestNames.Count == 3, "the pod created after the drop arrived");
        _server.Faults.DropWatches();
        _server.Store.Delete("pods", "default", "a");
        await TestApiClients.WaitUntilAsync(() => collector.LatestNames.SequenceEqual(["b", "c"]), "the pod deleted during the drop went away");

        Assert.Equal(1, _server.RequestLog.Count("list", "pods"));
        var snapshots = collector.Snapshots;
        Assert.Equal(3, snapshots.Count); // listed, c added, a deleted: the drops themselves yield nothing
        Assert.All(snapshots.Take(2), s => Assert.Contains(s.Pods, p => p.Metadata.Name == "a"));
    }

    [Fact]
    public async Task An_expired_resource_version_relists_and_an_unchanged_set_yields_no_snapshot()
    {
        await StartServerAsync(bookmarks: false);
        CreatePod("a");
        var (_, collector) = Start();
        await TestApiClients.WaitUntilAsync(() => collector.LatestNames.Count == 1, "the pod listed");
        var watches = _server.RequestLog.Count("watch", "pods");

        // Another resource moves the store on, the window is compacted: resuming from our resourceVersion gets 410.
        _server.Store.Create("configmaps", JsonNode.Parse("""{"metadata":{"name":"cm","namespace":"default"}}""")!.AsObject());
        _server.Store.CompactWatchCache();
        _server.Faults.DropWatches();
        await TestApiClients.WaitUntilAsync(() => _server.RequestLog.Count("list", "pods") == 2, "the pods were listed again");
        await TestApiClients.WaitUntilAsync(() => _server.RequestLog.Count("watch", "pods") >= watches + 2, "a new watch from the new list");
        Assert.Single(collector.Snapshots);

        CreatePod("b");
        await TestApiClients.WaitUntilAsync(() => collector.LatestNames.Count == 2, "the watch after the relist delivers");
        Assert.Equal(2, collector.Snapshots.Count);
        Assert.Contains(_log.Lines, l => l.Contains("410"));
    }

    [Fact]
    public async Task The_server_down_for_a_while_keeps_the_last_snapshot_and_the_source_continues()
    {
        await StartServerAsync();
        CreatePod("a");
        var (_, collector) = Start();
        await TestApiClients.WaitUntilAsync(() => collector.LatestNames.Count == 1, "the pod listed");

        await _server.StopListeningAsync();
        await Task.Delay(TimeSpan.FromSeconds(2));
        await _server.ResumeListeningAsync();
        CreatePod("b");
        await TestApiClients.WaitUntilAsync(() => collector.LatestNames.Count == 2, "the pod created after the outage arrived", timeoutSeconds: 40);

        Assert.DoesNotContain(collector.Snapshots, s => s.Pods.Count == 0);
        Assert.False(collector.Run.IsCompleted);
    }

    [Fact]
    public async Task An_unreachable_server_at_start_yields_nothing_until_it_answers()
    {
        await StartServerAsync();
        CreatePod("a");
        _server.Faults.RefuseConnections();
        var (_, collector) = Start();
        await TestApiClients.WaitUntilAsync(() => _log.Lines.Count(l => l.Contains("retrying")) >= 2, "two failed lists");
        Assert.Empty(collector.Snapshots);
        _server.Faults.AcceptConnections();
        await TestApiClients.WaitUntilAsync(() => collector.LatestNames.Count == 1, "the pod listed once the server answered", timeoutSeconds: 40);
    }
}
