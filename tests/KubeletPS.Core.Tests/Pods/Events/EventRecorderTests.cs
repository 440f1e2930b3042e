using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Server;
using Microsoft.Extensions.Time.Testing;
using static KubeletPS.Core.Tests.Pods.PodApiFixtures;

namespace KubeletPS.Core.Tests.Pods.Events;

public sealed class EventRecorderTests : IAsyncLifetime
{
    private TestApiServer _server = null!;
    private readonly ListLog _log = new();
    private readonly List<EventRecorder> _recorders = [];

    public async Task InitializeAsync() => _server = await TestApiServer.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var r in _recorders) await r.DisposeAsync();
        await _server.DisposeAsync();
    }

    private EventRecorder Recorder(EventRecorderOptions? options = null, TimeProvider? time = null)
    {
        var (client, identity) = TestApiClients.ForNode(_server, "node-a");
        var recorder = new EventRecorder(client, identity, "node-a", _log, options, time);
        _recorders.Add(recorder);
        return recorder;
    }

    private IReadOnlyList<System.Text.Json.Nodes.JsonObject> Events(string ns = "default") => _server.Store.List("events", ns);

    [Fact]
    public async Task Two_identical_events_become_one_Event_with_count_2()
    {
        var pod = ToPod(CreatePod(_server, "web"));
        var recorder = Recorder();
        var container = EventReferences.ForPod(pod, "c");
        recorder.Eventf(container, EventTypes.Warning, EventReasons.BackOff, "Back-off restarting failed container {0} in pod {1}", "c", "web");
        recorder.Eventf(container, EventTypes.Warning, EventReasons.BackOff, "Back-off restarting failed container {0} in pod {1}", "c", "web");
        await recorder.FlushAsync(CancellationToken.None);

        var e = Assert.Single(Events());
        Assert.Equal(2, (int?)e["count"]);
        Assert.Equal(("Warning", "BackOff", "Back-off restarting failed container c in pod web"), ((string?)e["type"], (string?)e["reason"], (string?)e["message"]));
        var involved = e["involvedObject"]!;
        Assert.Equal(("Pod", "web", pod.Metadata.Uid, "spec.containers{c}", pod.Metadata.ResourceVersion),
            ((string?)involved["kind"], (string?)involved["name"], (string?)involved["uid"], (string?)involved["fieldPath"], (string?)involved["resourceVersion"]));
        Assert.Equal(("kubelet", "node-a"), ((string?)e["source"]!["component"], (string?)e["source"]!["host"]));
        Assert.Equal(("kubelet", "node-a"), ((string?)e["reportingComponent"], (string?)e["reportingInstance"]));
        Assert.StartsWith("web.", (string?)e["metadata"]!["name"]);
        Assert.Equal(1, _server.RequestLog.Count("create", "events"));
        Assert.Equal(1, _server.RequestLog.Count("patch", "events"));
    }

    [Fact]
    public async Task Different_messages_make_different_Events_and_node_events_go_to_default()
    {
        var pod = ToPod(CreatePod(_server, "web"));
        var recorder = Recorder();
        recorder.Event(EventReferences.ForPod(pod, "c"), EventTypes.Normal, EventReasons.Pulling, "Pulling image \"busybox\"");
        recorder.Event(EventReferences.ForPod(pod, "c"), EventTypes.Normal, EventReasons.Pulled, "Successfully pulled image \"busybox\"");
        recorder.Event(EventReferences.ForNode("node-a"), EventTypes.Normal, EventReasons.Starting, "Starting kubelet.");
        await recorder.FlushAsync(CancellationToken.None);

        var events = Events();
        Assert.Equal(3, events.Count);
        Assert.All(events, e => Assert.Equal(1, (int?)e["count"]));
        var node = events.Single(e => (string?)e["involvedObject"]!["kind"] == "Node");
        Assert.Equal(("node-a", "node-a"), ((string?)node["involvedObject"]!["name"], (string?)node["involvedObject"]!["uid"]));
        Assert.Equal(0, _server.RequestLog.Count("patch", "events"));
    }

    [Fact]
    public async Task The_burst_limit_holds_back_what_exceeds_it()
    {
        var pod = ToPod(CreatePod(_server, "crashy"));
        // A refill so slow that nothing beyond the burst is sent during the test.
        var recorder = Recorder(new EventRecorderOptions { Qps = 0.001, Burst = 5 });
        for (var i = 0; i < 20; i++)
            recorder.Event(EventReferences.ForPod(pod, "c"), EventTypes.Warning, EventReasons.Unhealthy, $"Liveness probe failed: attempt {i}");

        await TestApiClients.WaitUntilAsync(() => _server.RequestLog.Count("create", "events") == 5, "the burst was sent");
        await TestApiClients.WaitUntilAsync(() => recorder.Pending == 15, "the rest waits for tokens");
        Assert.Equal(5, _server.RequestLog.Count("create", "events"));
    }

    [Fact]
    public async Task An_unreachable_server_does_not_block_the_caller_and_events_are_dropped_after_retries()
    {
        var recorder = Recorder(new EventRecorderOptions { RetryDelay = TimeSpan.FromMilliseconds(50) });
        _server.Faults.RefuseConnections();
        recorder.Event(EventReferences.ForNode("node-a"), EventTypes.Warning, EventReasons.NodeNotReady, "Node node-a status is now: NodeNotReady");
        await recorder.FlushAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, recorder.Dropped);
        Assert.Contains(_log.Lines, l => l.Contains("dropped after 3 attempt(s)"));
        _server.Faults.AcceptConnections();
    }

    [Fact]
    public async Task One_object_gets_a_burst_of_25_events_then_one_per_5_minutes()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2025-01-01T00:00:00Z"));
        var pod = ToPod(CreatePod(_server, "unmountable"));
        var recorder = Recorder(time: clock);
        void FailedMount() => recorder.Event(EventReferences.ForPod(pod), EventTypes.Warning, EventReasons.FailedMount,
            "MountVolume.SetUp failed for volume \"cfg\" : configmap \"missing\" not found");
        for (var i = 0; i < 30; i++) FailedMount();
        await recorder.FlushAsync(CancellationToken.None);
        Assert.Equal(25, (int?)Assert.Single(Events())["count"]);
        Assert.Equal(5, recorder.Filtered);

        clock.Advance(TimeSpan.FromMinutes(5));
        FailedMount();
        FailedMount();
        await recorder.FlushAsync(CancellationToken.None);
        Assert.Equal(26, (int?)Assert.Single(Events())["count"]);
        Assert.Equal(6, recorder.Filtered);
    }

    [Fact]
    public async Task Similar_events_with_ten_different_messages_are_combined_into_one()
    {
        var pod = ToPod(CreatePod(_server, "flaky"));
        var recorder = Recorder();
        for (var i = 1; i <= 12; i++)
            recorder.Event(EventReferences.ForPod(pod, "c"), EventTypes.Warning, EventReasons.Unhealthy, $"Readiness probe failed: request {i} timed out");
        // Another reason is not similar.
        recorder.Event(EventReferences.ForPod(pod, "c"), EventTypes.Normal, EventReasons.Started, "Started container c");
        await recorder.FlushAsync(CancellationToken.None);

        var unhealthy = Events().Where(e => (string?)e["reason"] == "Unhealthy").ToList();
        Assert.Equal(10, unhealthy.Count);
        var combined = Assert.Single(unhealthy, e => ((string?)e["message"])!.StartsWith(EventCorrelator.CombinedPrefix, StringComparison.Ordinal));
        Assert.Equal((EventCorrelator.CombinedPrefix + "Readiness probe failed: request 12 timed out", 3), ((string?)combined["message"], (int?)combined["count"]));
        Assert.Single(Events(), e => (string?)e["reason"] == "Started");
    }
}
