using System.Text.Json.Nodes;
using k8s;
using KubeletPS.Core.Pods.Config;
using KubeletPS.Core.Pods.Manager;
using KubeletPS.Core.Pods.Status;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Server;
using static KubeletPS.Core.Tests.Pods.PodApiFixtures;

namespace KubeletPS.Core.Tests.Pods.Status;

public sealed class PodStatusManagerTests : IAsyncLifetime
{
    private TestApiServer _server = null!;
    private readonly ListLog _log = new();
    private readonly CancellationTokenSource _stop = new();

    public async Task InitializeAsync() => _server = await TestApiServer.StartAsync();

    public async Task DisposeAsync()
    {
        _stop.Cancel();
        await _server.DisposeAsync();
    }

    private PodStatusManager Manager(IMirrorPodLookup? mirrors = null)
    {
        var (client, identity) = TestApiClients.ForNode(_server, "node-a");
        return new PodStatusManager(client, identity, _log, mirrors, new PodStatusManagerOptions { MinRetryDelay = TimeSpan.FromMilliseconds(100), MaxRetryDelay = TimeSpan.FromMilliseconds(500) });
    }

    private JsonNode? StoredStatus(string name, string ns = "default") => _server.Store.Get("pods", ns, name)?["status"];

    private int Patches => _server.RequestLog.Count("patch", "pods/status");

    [Fact]
    public async Task The_status_reaches_the_API_server_and_an_identical_one_sends_nothing()
    {
        // A condition set by someone else (a readiness gate's controller) survives the kubelet's patch.
        var pod = ToPod(CreatePod(_server, "web", statusJson: """{"phase":"Pending","conditions":[{"type":"example.com/gate","status":"True"}]}"""));
        var manager = Manager();

        manager.SetPodStatus(pod, Running());
        await manager.FlushAsync(CancellationToken.None);
        var status = StoredStatus("web")!;
        Assert.Equal("Running", (string?)status["phase"]);
        Assert.Equal("10.88.0.5", (string?)status["podIP"]);
        Assert.Equal(["example.com/gate", "Ready", "ContainersReady"], status["conditions"]!.AsArray().Select(c => (string?)c!["type"]));
        Assert.Equal(1, Patches);

        manager.SetPodStatus(pod, Running());
        await manager.FlushAsync(CancellationToken.None);
        Assert.Equal(1, Patches);
        Assert.Equal(0, manager.PendingCount);

        manager.SetPodStatus(pod, Running(ready: false));
        await manager.FlushAsync(CancellationToken.None);
        Assert.Equal(2, Patches);
        Assert.Equal("False", (string?)StoredStatus("web")!["conditions"]!.AsArray().Single(c => (string?)c!["type"] == "Ready")!["status"]);
    }

    [Fact]
    public async Task A_status_equal_to_the_one_in_the_API_server_is_not_sent()
    {
        var json = KubernetesJson.Serialize(Running());
        var pod = ToPod(CreatePod(_server, "same", statusJson: json));
        var manager = Manager();
        manager.SetPodStatus(pod, Running());
        await manager.FlushAsync(CancellationToken.None);
        Assert.Equal(0, Patches);
    }

    [Fact]
    public async Task While_the_server_is_down_only_the_latest_status_is_kept_and_sent_once_it_returns()
    {
        var a = ToPod(CreatePod(_server, "a"));
        var b = ToPod(CreatePod(_server, "b"));
        var manager = Manager();
        var run = manager.RunAsync(_stop.Token);
        manager.SetPodStatus(a, Running(0));
        manager.SetPodStatus(b, Running(0));
        await TestApiClients.WaitUntilAsync(() => manager.PendingCount == 0 && Patches == 2, "the first statuses were sent");

        await _server.StopListeningAsync();
        for (var restarts = 1; restarts <= 3; restarts++)
        {
            manager.SetPodStatus(a, Running(restarts));
            manager.SetPodStatus(b, Running(restarts));
        }
        await TestApiClients.WaitUntilAsync(() => _log.Lines.Count(l => l.Contains("Cannot send")) >= 2, "sends failed while the server was down");
        var before = Patches;
        await _server.ResumeListeningAsync();

        await TestApiClients.WaitUntilAsync(() => manager.PendingCount == 0, "the statuses were sent after the server returned", timeoutSeconds: 30);
        Assert.Equal(3, (int?)StoredStatus("a")!["containerStatuses"]![0]!["restartCount"]);
        Assert.Equal(3, (int?)StoredStatus("b")!["containerStatuses"]![0]!["restartCount"]);
        Assert.Equal(2, Patches - before);
        Assert.False(run.IsCompleted);
    }

    [Fact]
    public async Task A_storm_of_conflicts_is_resolved()
    {
        var pod = ToPod(CreatePod(_server, "web"));
        var manager = Manager();
        var failure = _server.Faults.FailNext(8, 409, "/status", method: "PATCH");
        var run = manager.RunAsync(_stop.Token);
        manager.SetPodStatus(pod, Running(2));
        await TestApiClients.WaitUntilAsync(() => (int?)StoredStatus("web")?["containerStatuses"]?[0]?["restartCount"] == 2, "the status got through");
        Assert.Equal(0, failure.Remaining);
        Assert.True(_server.RequestLog.Count("get", "pods") >= 1);
        Assert.False(run.IsCompleted);
    }

    [Fact]
    public async Task A_deleted_pod_is_forgotten_without_an_error_loop()
    {
        var pod = ToPod(CreatePod(_server, "gone"));
        _server.Store.Delete("pods", "default", "gone");
        var manager = Manager();
        manager.SetPodStatus(pod, Running());
        await manager.FlushAsync(CancellationToken.None);
        manager.SetPodStatus(pod, Running(1));
        await manager.FlushAsync(CancellationToken.None);
        Assert.Equal(1, Patches);
        Assert.Equal(0, manager.PendingCount);
        Assert.Contains(_log.Lines, l => l.Contains("gone from the API server"));
    }

    [Fact]
    public async Task A_recreated_pod_with_the_same_name_does_not_get_the_old_pods_status()
    {
        var old = ToPod(CreatePod(_server, "web"));
        _server.Store.Delete("pods", "default", "web");
        CreatePod(_server, "web");
        var manager = Manager();
        manager.SetPodStatus(old, Running());
        await manager.FlushAsync(CancellationToken.None);
        Assert.Equal("Pending", (string?)StoredStatus("web")!["phase"]); // as created: the old pod's status was refused (409 UID precondition)
        Assert.Equal(0, manager.PendingCount);
    }

    [Fact]
    public async Task A_static_pods_status_goes_to_its_mirror_pod_once_it_exists()
    {
        CreateNode(_server);
        var (client, identity) = TestApiClients.ForNode(_server, "node-a");
        var mirrors = new MirrorPodManager(client, identity, "node-a", _log);
        var manager = Manager(mirrors);
        var staticPod = StaticPod("etcd", "0123abcd");

        manager.SetPodStatus(staticPod, Running());
        await manager.FlushAsync(CancellationToken.None);
        Assert.Equal(1, manager.PendingCount);
        Assert.Equal(0, Patches);

        await mirrors.SyncAsync([staticPod], null, CancellationToken.None);
        await manager.FlushAsync(CancellationToken.None);
        Assert.Equal(0, manager.PendingCount);
        Assert.Equal("Running", (string?)StoredStatus("etcd-node-a", "kube-system")!["phase"]);
    }

    [Fact]
    public async Task A_pod_being_deleted_is_removed_once_its_status_is_terminal_and_not_before()
    {
        CreatePod(_server, "web");
        var (admin, _) = TestApiClients.ForAdmin(_server);
        await admin.CoreV1.DeleteNamespacedPodAsync("web", "default"); // graceful: deletionTimestamp set, the pod stays
        var terminating = await admin.CoreV1.ReadNamespacedPodAsync("web", "default");
        Assert.NotNull(terminating.Metadata.DeletionTimestamp);
        var manager = Manager();

        manager.SetPodStatus(terminating, Running());
        await manager.FlushAsync(CancellationToken.None);
        Assert.NotNull(_server.Store.Get("pods", "default", "web"));

        var finished = Running(ready: false);
        finished.Phase = "Succeeded";
        finished.ContainerStatuses[0].State = new k8s.Models.V1ContainerState { Terminated = new k8s.Models.V1ContainerStateTerminated { ExitCode = 0, Reason = "Completed" } };
        manager.SetPodStatus(terminating, finished);
        await manager.FlushAsync(CancellationToken.None);
        Assert.Null(_server.Store.Get("pods", "default", "web"));
        Assert.Equal(0, manager.PendingCount);
        Assert.Contains(_log.Lines, l => l.Contains("has terminated; deleted it"));
    }

    [Fact]
    public async Task A_pod_being_deleted_that_the_workers_removed_is_deleted_by_the_next_pass()
    {
        CreatePod(_server, "web");
        CreatePod(_server, "db");
        var (admin, _) = TestApiClients.ForAdmin(_server);
        await admin.CoreV1.DeleteNamespacedPodAsync("web", "default");
        var terminating = await admin.CoreV1.ReadNamespacedPodAsync("web", "default");
        var running = await admin.CoreV1.ReadNamespacedPodAsync("db", "default");
        var manager = Manager();

        manager.SetPodStatus(terminating, Running());
        manager.RemovePod(terminating.Metadata.Uid, terminating);
        manager.RemovePod(running.Metadata.Uid, running); // not being deleted: only forgotten
        Assert.Equal(1, manager.PendingCount);
        await manager.FlushAsync(CancellationToken.None);

        Assert.Null(_server.Store.Get("pods", "default", "web"));
        Assert.NotNull(_server.Store.Get("pods", "default", "db"));
        Assert.Equal(0, manager.PendingCount);
        Assert.Contains(_log.Lines, l => l.Contains("has terminated; deleted it"));
    }

    [Fact]
    public async Task Deleting_a_removed_pod_whose_uid_changed_is_not_retried()
    {
        CreatePod(_server, "web");
        var (admin, _) = TestApiClients.ForAdmin(_server);
        await admin.CoreV1.DeleteNamespacedPodAsync("web", "default");
        var terminating = await admin.CoreV1.ReadNamespacedPodAsync("web", "default");
        terminating.Metadata.Uid = "another-uid"; // the precondition fails: a pod of the same name, not this one
        var manager = Manager();

        manager.RemovePod(terminating.Metadata.Uid, terminating);
        var result = await manager.SyncAsync(CancellationToken.None);

        Assert.Equal(0, result.Failed);
        Assert.Equal(0, manager.PendingCount);
        Assert.NotNull(_server.Store.Get("pods", "default", "web"));
    }
}
