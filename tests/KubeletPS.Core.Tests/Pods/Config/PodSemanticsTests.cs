using k8s;
using k8s.Models;
using KubeletPS.Core.Pods.Config;

namespace KubeletPS.Core.Tests.Pods.Config;

/// <summary>Which pod changes wake a pod's worker (kubelet's podsDifferSemantically).</summary>
public sealed class PodSemanticsTests
{
    private static V1Pod Pod() => KubernetesJson.Deserialize<V1Pod>("""
        {"metadata":{"name":"web","namespace":"default","uid":"u1","resourceVersion":"10","labels":{"app":"web"},"annotations":{"a":"1"}},
         "spec":{"nodeName":"node1","containers":[{"name":"main","image":"busybox"}]},
         "status":{"phase":"Pending"}}
        """);

    [Fact]
    public void Status_and_resource_version_changes_do_not_count()
    {
        var changed = Pod();
        changed.Status = new V1PodStatus { Phase = "Running", PodIP = "10.88.0.4" };
        changed.Metadata.ResourceVersion = "11";
        changed.Metadata.ManagedFields = [new V1ManagedFieldsEntry { Manager = "kubelet" }];
        Assert.Equal(PodSemantics.Key(Pod()), PodSemantics.Key(changed));
    }

    [Theory]
    [InlineData("label")]
    [InlineData("annotation")]
    [InlineData("image")]
    [InlineData("deletion")]
    public void SpecLabelsAnnotationsAndDeletionCount(string what)
    {
        var changed = Pod();
        switch (what)
        {
            case "label": changed.Metadata.Labels["tier"] = "front"; break;
            case "annotation": changed.Metadata.Annotations["a"] = "2"; break;
            case "image": changed.Spec.Containers[0].Image = "busybox:1.37"; break;
            case "deletion":
                changed.Metadata.DeletionTimestamp = new DateTime(2026, 11, 29, 12, 0, 0, DateTimeKind.Utc);
                changed.Metadata.DeletionGracePeriodSeconds = 30;
                break;
        }
        Assert.NotEqual(PodSemantics.Key(Pod()), PodSemantics.Key(changed));
    }

    [Fact]
    public void DifferSemanticallyComparesTheKeys()
    {
        var echo = Pod();
        echo.Status = new V1PodStatus { Phase = "Running" };
        Assert.False(PodSemantics.DifferSemantically(Pod(), echo));
        var relabelled = Pod();
        relabelled.Metadata.Labels["app"] = "api";
        Assert.True(PodSemantics.DifferSemantically(Pod(), relabelled));
    }
}
