using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Tests.Pods.KubeRuntime;

/// <summary>The one grouping of sandboxes and containers by pod UID (kubelet's GetPods).</summary>
public sealed class RuntimePodsTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.Parse("2026-01-01T00:00:00Z");

    private static Dictionary<string, string> Uid(string? uid) => uid is null ? [] : new() { [KubeletLabels.PodUid] = uid };

    private static PodSandboxInfo Sandbox(string id, string? uid, uint attempt = 0, int minute = 0)
        => new(id, "web", "default", uid ?? "", attempt, PodSandboxState.Ready, T0.AddMinutes(minute), Uid(uid), new Dictionary<string, string>(), "");

    private static ContainerInfo Container(string id, string sandbox, string? uid)
        => new(id, sandbox, "main", 0, "busybox", "sha256:1", ContainerState.Running, T0, Uid(uid), new Dictionary<string, string>());

    [Fact]
    public void Sandboxes_and_containers_are_joined_by_the_pod_uid_label_and_foreign_ones_left_out()
    {
        var pods = RuntimePods.Group(
            [Sandbox("s1", "a"), Sandbox("s2", "b"), Sandbox("s3", "a", attempt: 1, minute: 5), Sandbox("foreign", null)],
            [Container("c1", "s1", "a"), Container("c2", "s2", null), Container("c3", "gone", "c"), Container("c4", "foreign", null)],
            out var skipped);

        Assert.Equal(["a", "b", "c"], pods.Select(p => p.Uid));
        Assert.Equal(["s1", "s3"], pods[0].Sandboxes.Select(s => s.Id));
        Assert.Equal("s3", pods[0].LatestSandbox!.Id);
        // A container without the label is its sandbox's pod's; one whose sandbox is gone keeps its own label.
        Assert.Equal(["c2"], pods[1].Containers.Select(c => c.Id));
        Assert.Empty(pods[2].Sandboxes);
        Assert.Null(pods[2].LatestSandbox);
        Assert.Equal(2, skipped);
    }
}
