using k8s;
using k8s.Models;
using KubeletPS.Core.Agent;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>Which pod changes wake a pod's worker (kubelet's podsDifferSemantically).</summary>
public sealed class PodSemanticKeyTests
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
        Assert.Equal(PodSyncAgent.SemanticKey(Pod()), PodSyncAgent.SemanticKey(changed));
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
        Assert.NotEqual(PodSyncAgent.SemanticKey(Pod()), PodSyncAgent.SemanticKey(changed));
    }
}
