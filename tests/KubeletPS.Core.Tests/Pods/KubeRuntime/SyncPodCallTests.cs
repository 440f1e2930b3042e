using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Tests.Support.Fakes;
using static KubeletPS.Core.Tests.Pods.KubeRuntime.PodActionsTable;

namespace KubeletPS.Core.Tests.Pods.KubeRuntime;

/// <summary>
/// SyncPod carrying its actions out, over the fake runtime: which CRI calls it makes, in which
/// order and how many (kubelet's TestSyncPod* over fake_runtime_service.go), and what a failed call leaves.
/// </summary>
public sealed class SyncPodCallTests
{
    [Fact]
    public async Task A_new_pod_is_the_calls_kubelet_makes_and_a_second_sync_makes_none()
    {
        await using var f = new FakeRuntimeManager();
        var pod = Pod(containers: ["a", "b"]);

        var result = await f.Manager.SyncPodAsync(pod, RuntimePodStatus.Empty("uid-1"), default);

        Assert.True(result.Changed);
        Assert.Empty(result.Waiting);
        var calls = f.Runtime.Calls.Called;
        Assert.Equal(["RunPodSandbox", "PodSandboxStatus"], calls.Take(2));
        // The two containers start in parallel: per container the image check, then create, then start.
        Assert.Equal(2, calls.Count(c => c == "ImageStatus"));
        Assert.Equal(2, calls.Count(c => c == "CreateContainer"));
        Assert.Equal(2, calls.Count(c => c == "StartContainer"));
        Assert.Equal(8, calls.Count);
        Assert.Empty(f.Images.Pulled);
        Assert.All(f.Runtime.Containers, c => Assert.Equal(ContainerState.Running, c.State));

        var status = await f.Manager.GetPodStatusAsync("uid-1", default);
        f.Runtime.Calls.Clear();
        var again = await f.Manager.SyncPodAsync(pod, status, default);
        Assert.False(again.Changed);
        Assert.Empty(f.Runtime.Calls.Called);
    }

    [Fact]
    public async Task A_changed_container_is_stopped_before_its_new_instance_is_created()
    {
        await using var f = new FakeRuntimeManager();
        var pod = Pod();
        await f.Manager.SyncPodAsync(pod, RuntimePodStatus.Empty("uid-1"), default);
        var status = await f.Manager.GetPodStatusAsync("uid-1", default);
        pod.Spec.Containers[0].Command = ["sleep", "7200"];
        f.Runtime.Calls.Clear();

        await f.Manager.SyncPodAsync(pod, status, default);

        Assert.Equal(["StopContainer", "ImageStatus", "CreateContainer", "StartContainer"], f.Runtime.Calls.Called);
        Assert.Equal([ContainerState.Exited, ContainerState.Running], f.Runtime.Containers.Select(c => c.State));
        Assert.Equal("1", f.Runtime.Containers[1].Spec.Annotations[KubeletLabels.ContainerRestartCount]);
        Assert.Contains(f.Events.WithReason("Killing"), e => e.Message == "Container app definition changed, will be restarted");
    }

    [Fact]
    public async Task A_lost_sandbox_is_replaced_with_the_next_attempt()
    {
        await using var f = new FakeRuntimeManager();
        var pod = Pod();
        await f.Manager.SyncPodAsync(pod, RuntimePodStatus.Empty("uid-1"), default);
        await f.Runtime.StopPodSandboxAsync(f.Runtime.Sandboxes[0].Id);
        var status = await f.Manager.GetPodStatusAsync("uid-1", default);
        f.Runtime.Calls.Clear();

        await f.Manager.SyncPodAsync(pod, status, default);

        // Nothing left running to stop: the new sandbox, then the container in it.
        Assert.Equal(["RunPodSandbox", "PodSandboxStatus", "ImageStatus", "CreateContainer", "StartContainer"], f.Runtime.Calls.Called);
        Assert.Equal([0u, 1u], f.Runtime.Sandboxes.Select(s => s.Spec.Attempt));
        Assert.Equal(f.Runtime.Sandboxes[1].Id, f.Runtime.Containers.Single(c => c.State == ContainerState.Running).SandboxId);
    }

    [Fact]
    public async Task Init_containers_run_one_sync_at_a_time_before_the_app_containers()
    {
        await using var f = new FakeRuntimeManager();
        var pod = Pod(inits: [Container("i1"), Container("i2")]);
        var status = RuntimePodStatus.Empty("uid-1");
        var started = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            await f.Manager.SyncPodAsync(pod, status, default);
            var running = f.Runtime.Containers.Single(c => c.State == ContainerState.Running);
            started.Add(running.Spec.Name);
            if (i < 2) f.Runtime.ExitContainer(running.Id, 0);
            status = await f.Manager.GetPodStatusAsync("uid-1", default);
        }
        Assert.Equal(["i1", "i2", "app"], started);
        Assert.Equal(1, f.Runtime.Calls.Count("RunPodSandbox"));
    }

    [Fact]
    public async Task A_failed_RunPodSandbox_leaves_every_container_waiting_and_creates_none()
    {
        await using var f = new FakeRuntimeManager();
        f.Runtime.Calls.InjectError("RunPodSandbox", FakeCriCalls.Error("RunPodSandbox", RuntimeErrorKind.RuntimeError, "failed to setup network for sandbox"));

        var result = await f.Manager.SyncPodAsync(Pod(), RuntimePodStatus.Empty("uid-1"), default);

        Assert.Equal(["RunPodSandbox"], f.Runtime.Calls.Called);
        Assert.Equal("ContainerCreating", result.Waiting["app"].Reason);
        Assert.Contains("Failed to create pod sandbox", result.Waiting["app"].Message);
        Assert.Equal(TimeSpan.FromSeconds(5), result.RetryAfter);
        Assert.Empty(f.Runtime.Sandboxes);

        // The error was for one call: the next sync creates the pod.
        await f.Manager.SyncPodAsync(Pod(), RuntimePodStatus.Empty("uid-1"), default);
        Assert.Single(f.Runtime.Containers, c => c.State == ContainerState.Running);
    }

    [Fact]
    public async Task A_failed_CreateContainer_is_CreateContainerError_with_a_Failed_event()
    {
        await using var f = new FakeRuntimeManager();
        f.Runtime.Calls.InjectErrorAlways("CreateContainer", FakeCriCalls.Error("CreateContainer", RuntimeErrorKind.RuntimeError, "no space left on device"));
        var result = await f.Manager.SyncPodAsync(Pod(containers: ["a"]), RuntimePodStatus.Empty("uid-1"), default);

        Assert.Equal("CreateContainerError", result.Waiting["a"].Reason);
        Assert.Contains("no space left on device", result.Waiting["a"].Message);
        Assert.Equal(0, f.Runtime.Calls.Count("StartContainer"));
        Assert.Contains(f.Events.WithReason("Failed"), e => e.Message.Contains("no space left on device", StringComparison.Ordinal));
    }
}
