using KubeletPS.Core.Pods.Config;
using KubeletPS.Core.Pods.Manager;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Server;
using static KubeletPS.Core.Tests.Pods.PodApiFixtures;

namespace KubeletPS.Core.Tests.Pods.Manager;

public sealed class MirrorPodManagerTests : IAsyncLifetime
{
    private TestApiServer _server = null!;
    private MirrorPodManager _manager = null!;
    private string _nodeUid = null!;

    public async Task InitializeAsync()
    {
        _server = await TestApiServer.StartAsync();
        _nodeUid = (string)CreateNode(_server)["metadata"]!["uid"]!;
        var (client, identity) = TestApiClients.ForNode(_server, "node-a");
        _manager = new MirrorPodManager(client, identity, "node-a");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private System.Text.Json.Nodes.JsonObject? Stored(string name) => _server.Store.Get("pods", "kube-system", name);

    [Fact]
    public async Task A_static_pod_gets_a_mirror_pod_owned_by_the_node_and_it_is_created_once()
    {
        var staticPod = StaticPod("etcd", "hash-1");
        var result = await _manager.SyncAsync([staticPod], null, CancellationToken.None);
        Assert.Equal(["kube-system/etcd-node-a"], result.Created);

        var mirror = Stored("etcd-node-a")!;
        var annotations = mirror["metadata"]!["annotations"]!;
        Assert.Equal("hash-1", (string?)annotations[PodAnnotations.ConfigMirror]);
        Assert.Equal("hash-1", (string?)annotations[PodAnnotations.ConfigHash]);
        Assert.Equal("file", (string?)annotations[PodAnnotations.ConfigSource]);
        Assert.Equal("etcd", (string?)mirror["metadata"]!["labels"]!["component"]);
        Assert.Equal("node-a", (string?)mirror["spec"]!["nodeName"]);
        Assert.NotEqual("hash-1", (string?)mirror["metadata"]!["uid"]);
        var owner = mirror["metadata"]!["ownerReferences"]![0]!;
        Assert.Equal(("v1", "Node", "node-a", _nodeUid, true),
            ((string?)owner["apiVersion"], (string?)owner["kind"], (string?)owner["name"], (string?)owner["uid"], (bool?)owner["controller"]));
        Assert.Equal((string?)mirror["metadata"]!["uid"], _manager.GetMirrorPod(staticPod)?.Metadata.Uid);

        var again = await _manager.SyncAsync([staticPod], null, CancellationToken.None);
        Assert.Empty(again.Created);
        Assert.Equal(1, _server.RequestLog.Count("create", "pods"));
    }

    [Fact]
    public async Task A_deleted_mirror_pod_is_created_again()
    {
        var staticPod = StaticPod("etcd", "hash-1");
        await _manager.SyncAsync([staticPod], null, CancellationToken.None);
        _server.Store.Delete("pods", "kube-system", "etcd-node-a");
        var result = await _manager.SyncAsync([staticPod], null, CancellationToken.None);
        Assert.Equal(["kube-system/etcd-node-a"], result.Created);
        Assert.NotNull(Stored("etcd-node-a"));
    }

    [Fact]
    public async Task An_edited_static_pod_replaces_its_stale_mirror_pod()
    {
        await _manager.SyncAsync([StaticPod("etcd", "hash-1")], null, CancellationToken.None);
        var oldUid = (string?)Stored("etcd-node-a")!["metadata"]!["uid"];
        var edited = StaticPod("etcd", "hash-2", image: "busybox:1.36");
        var result = await _manager.SyncAsync([edited], null, CancellationToken.None);
        Assert.Equal(["kube-system/etcd-node-a"], result.Deleted);
        Assert.Equal(["kube-system/etcd-node-a"], result.Created);
        var mirror = Stored("etcd-node-a")!;
        Assert.NotEqual(oldUid, (string?)mirror["metadata"]!["uid"]);
        Assert.Equal("hash-2", (string?)mirror["metadata"]!["annotations"]![PodAnnotations.ConfigMirror]);
        Assert.Equal("busybox:1.36", (string?)mirror["spec"]!["containers"]![0]!["image"]);
    }

    [Fact]
    public async Task A_mirror_pod_whose_static_pod_is_gone_is_deleted_and_other_pods_are_left_alone()
    {
        CreatePod(_server, "regular");
        await _manager.SyncAsync([StaticPod("etcd", "hash-1"), StaticPod("apiserver", "hash-3")], null, CancellationToken.None);
        var result = await _manager.SyncAsync([StaticPod("apiserver", "hash-3")], null, CancellationToken.None);
        Assert.Equal(["kube-system/etcd-node-a"], result.Deleted);
        Assert.Null(Stored("etcd-node-a"));
        Assert.NotNull(Stored("apiserver-node-a"));
        Assert.NotNull(_server.Store.Get("pods", "default", "regular"));
        Assert.Null(_manager.GetMirrorPod(StaticPod("etcd", "hash-1")));
    }
}
