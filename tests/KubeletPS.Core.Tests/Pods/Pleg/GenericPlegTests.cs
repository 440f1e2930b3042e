using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Pleg;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Tests.Support.Fakes;

namespace KubeletPS.Core.Tests.Pods.Pleg;

/// <summary>The relist over the fake runtime: one event per change, keyed by pod UID, and the last state kept while the runtime is away.</summary>
public sealed class GenericPlegTests
{
    private static readonly Dictionary<string, string> PodLabels = new() { [KubeletLabels.PodUid] = "uid-1", [KubeletLabels.PodName] = "web" };

    [Fact]
    public async Task Relists_report_each_change_once_and_keep_the_last_state_while_the_runtime_is_away()
    {
        var runtime = new FakeRuntimeService();
        var pleg = new GenericPleg(runtime, TimeSpan.FromSeconds(1), new RecordingLog());
        var events = new List<PodLifecycleEvent>();
        pleg.PodEvent += events.Add;
        Assert.True(pleg.MayHavePod("uid-1"));

        await pleg.RelistAsync(default);
        Assert.Empty(events);
        Assert.False(pleg.MayHavePod("uid-1"));

        var sandbox = runtime.AddSandbox(new PodSandboxSpec { Name = "web", Namespace = "default", Uid = "uid-1", Labels = PodLabels });
        // A container without kubelet's uid label belongs to its sandbox's pod.
        var container = runtime.AddContainer(sandbox.Id, new ContainerSpec { Name = "main", Image = "busybox:1.36" }, ContainerState.Running);
        runtime.AddSandbox(new PodSandboxSpec { Name = "foreign", Namespace = "default", Uid = "x" });
        await pleg.RelistAsync(default);
        Assert.Equal([(PodLifecycleEventType.SandboxChanged, "Ready"), (PodLifecycleEventType.ContainerStarted, "Running")], events.Select(e => (e.Type, e.State)));
        Assert.All(events, e => Assert.Equal("uid-1", e.PodUid));
        Assert.True(pleg.MayHavePod("uid-1"));

        events.Clear();
        await pleg.RelistAsync(default);
        Assert.Empty(events);

        runtime.ExitContainer(container.Id, 1);
        runtime.Calls.InjectErrorAlways("ListContainers", FakeCriCalls.Error("ListContainers", RuntimeErrorKind.ConnectionFailed, "connection refused"));
        await Assert.ThrowsAsync<KubeletRuntimeException>(() => pleg.RelistAsync(default));
        Assert.Empty(events);
        Assert.True(pleg.MayHavePod("uid-1"));

        runtime.Calls.ClearErrors();
        await pleg.RelistAsync(default);
        Assert.Equal((PodLifecycleEventType.ContainerDied, container.Id), (Assert.Single(events).Type, events[0].Id));
    }
}
