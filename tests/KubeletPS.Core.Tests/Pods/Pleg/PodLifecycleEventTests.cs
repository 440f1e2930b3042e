using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Pleg;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Tests.Pods.Pleg;

/// <summary>Which PLEG events a pod worker has already seen in its last runtime read (and so is not woken for).</summary>
public sealed class PodLifecycleEventTests
{
    private static readonly Dictionary<string, string> None = [];

    private static SandboxStatusInfo Sandbox(string id, PodSandboxState state) =>
        new(id, "web", "default", "uid-1", 0, state, DateTimeOffset.UtcNow, "10.0.0.2", [], false, None, None, "");

    private static RuntimeContainerStatus Container(string id, ContainerState state) =>
        new(new ContainerStatusInfo(id, "main", 0, state, DateTimeOffset.UtcNow, null, null, 0, "", "", "busybox", "sha256:1", "", None, None), "s1");

    private static RuntimePodStatus Observed(params object[] parts) => new("uid-1", "web", "default",
        parts.OfType<SandboxStatusInfo>().ToList(), parts.OfType<RuntimeContainerStatus>().ToList());

    private static PodLifecycleEvent Event(string id, string? state, PodLifecycleEventType type = PodLifecycleEventType.ContainerChanged) => new("uid-1", type, id, state);

    [Theory]
    [InlineData("Created", "Created", true)]
    [InlineData("Created", "Running", true)]   // the relist caught it between create and start; the worker saw it started
    [InlineData("Running", "Running", true)]
    [InlineData("Running", "Exited", true)]
    [InlineData("Running", "Created", false)]
    [InlineData("Exited", "Running", false)]   // it died after the worker's read: wake
    [InlineData("Unknown", "Unknown", false)]
    [InlineData("Exited", "Unknown", false)]
    public void A_container_state_is_seen_when_the_worker_read_it_or_a_later_one(string reported, string observed, bool seen)
    {
        var pod = Observed(Sandbox("s1", PodSandboxState.Ready), Container("c1", Enum.Parse<ContainerState>(observed)));
        Assert.Equal(seen, Event("c1", reported).IsSeenIn(pod));
    }

    [Fact]
    public void A_container_the_worker_has_not_read_yet_wakes_it()
    {
        Assert.False(Event("c2", "Running").IsSeenIn(Observed(Sandbox("s1", PodSandboxState.Ready), Container("c1", ContainerState.Running))));
        Assert.False(Event("c1", "Running").IsSeenIn(RuntimePodStatus.Empty("uid-1")));
    }

    [Fact]
    public void A_removal_is_seen_only_when_the_worker_no_longer_has_it()
    {
        Assert.False(Event("c1", null, PodLifecycleEventType.ContainerRemoved).IsSeenIn(Observed(Container("c1", ContainerState.Exited))));
        Assert.True(Event("c1", null, PodLifecycleEventType.ContainerRemoved).IsSeenIn(Observed(Container("c9", ContainerState.Running))));
        Assert.False(Event("sandbox:s1", null, PodLifecycleEventType.SandboxChanged).IsSeenIn(Observed(Sandbox("s1", PodSandboxState.NotReady))));
        Assert.True(Event("sandbox:s1", null, PodLifecycleEventType.SandboxChanged).IsSeenIn(RuntimePodStatus.Empty("uid-1")));
    }

    [Theory]
    [InlineData("Ready", PodSandboxState.Ready, true)]
    [InlineData("Ready", PodSandboxState.NotReady, true)]
    [InlineData("NotReady", PodSandboxState.NotReady, true)]
    [InlineData("NotReady", PodSandboxState.Ready, false)]
    public void A_sandbox_state_is_seen_when_the_worker_read_it_or_a_later_one(string reported, PodSandboxState observed, bool seen)
    {
        Assert.Equal(seen, Event("sandbox:s1", reported, PodLifecycleEventType.SandboxChanged).IsSeenIn(Observed(Sandbox("s1", observed))));
    }
}
