using k8s.Models;
using KubeletPS.Core.Pods.Config;
using KubeletPS.Core.Pods.Manager;

namespace KubeletPS.Core.Tests.Pods.Manager;

/// <summary>The API pods and mirror pods the status sink and the mirror loop read (kubelet's pod manager).</summary>
public sealed class PodManagerTests
{
    private static V1Pod Pod(string name, string uid, bool mirror = false) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = "default",
            Uid = uid,
            Annotations = mirror ? new Dictionary<string, string> { [PodAnnotations.ConfigMirror] = "hash" } : null,
        },
    };

    [Fact]
    public void EmptyUntilTheFirstList()
    {
        var pods = new PodManager();
        Assert.Empty(pods.ApiPods);
        Assert.Empty(pods.MirrorPods);
        Assert.Null(pods.GetPodByUid("u1"));
    }

    [Fact]
    public void TheLatestListReplacesTheLastOne()
    {
        var pods = new PodManager();
        pods.SetApiPods([Pod("web", "u1"), Pod("db", "u2")]);
        pods.SetApiPods([Pod("web", "u1"), Pod("etcd-node-a", "u3", mirror: true)]);
        Assert.Equal(["web", "etcd-node-a"], pods.ApiPods.Select(p => p.Metadata.Name));
        Assert.Equal("web", pods.GetPodByUid("u1")?.Metadata.Name);
        Assert.Null(pods.GetPodByUid("u2"));
    }

    [Fact]
    public void MirrorPodsAreTheApiPodsCarryingConfigMirror()
    {
        var pods = new PodManager();
        pods.SetApiPods([Pod("web", "u1"), Pod("etcd-node-a", "u3", mirror: true)]);
        Assert.Equal("etcd-node-a", Assert.Single(pods.MirrorPods).Metadata.Name);
        Assert.Equal("etcd-node-a", pods.GetPodByUid("u3")?.Metadata.Name);
    }
}
