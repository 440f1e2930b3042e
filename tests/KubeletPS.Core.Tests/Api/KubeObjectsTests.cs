using k8s.Models;
using KubeletPS.Core.Api;

namespace KubeletPS.Core.Tests.Api;

public sealed class KubeObjectsTests
{
    [Fact]
    public void A_deep_copy_shares_nothing_with_the_original()
    {
        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "web", Uid = "u1", Labels = new Dictionary<string, string> { ["app"] = "web" } },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "busybox" }] },
        };
        var copy = KubeObjects.DeepCopy(pod);
        copy.Metadata.Labels["app"] = "changed";
        copy.Spec.Containers[0].Image = "nginx";
        Assert.Equal("web", pod.Metadata.Labels["app"]);
        Assert.Equal("busybox", pod.Spec.Containers[0].Image);
        Assert.Equal("u1", copy.Metadata.Uid);
        Assert.NotSame(pod.Metadata, copy.Metadata);
    }
}
