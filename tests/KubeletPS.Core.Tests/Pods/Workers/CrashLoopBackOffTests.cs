using k8s.Models;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Status;
using KubeletPS.Core.Pods.Workers;
using Microsoft.Extensions.Time.Testing;

namespace KubeletPS.Core.Tests.Pods.Workers;

/// <summary>Kubelet's restart back-off on a fake clock: 10 s doubling to 5 min, reset after a 10 min run.</summary>
public sealed class CrashLoopBackOffTests
{
    [Fact]
    public void Delays_double_from_ten_seconds_to_five_minutes_and_restarts_wait_for_them()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2025-01-01T00:00:00Z"));
        var backOff = new CrashLoopBackOff(clock);
        const string key = "web_default_uid_main_hash";
        var delays = new List<double>();
        for (var i = 0; i < 8; i++)
        {
            var finished = clock.GetUtcNow();
            if (i > 0)
            {
                // Not before the delay...
                Assert.True(backOff.IsInBackOffSince(key, finished, out var delay, out _));
                clock.Advance(delay - TimeSpan.FromMilliseconds(1));
                Assert.True(backOff.IsInBackOffSince(key, finished, out _, out var remaining));
                Assert.Equal(TimeSpan.FromMilliseconds(1), remaining);
                // ...and at once after it.
                clock.Advance(TimeSpan.FromMilliseconds(1));
            }
            Assert.False(backOff.IsInBackOffSince(key, finished, out _, out _));
            delays.Add(backOff.Next(key, finished).TotalSeconds);
            clock.Advance(TimeSpan.FromSeconds(1)); // the container runs a second and crashes
        }
        Assert.Equal(new double[] { 10, 20, 40, 80, 160, 300, 300, 300 }, delays);
    }

    [Fact]
    public void A_container_that_ran_ten_minutes_starts_again_from_the_base()
    {
        var clock = new FakeTimeProvider();
        var backOff = new CrashLoopBackOff(clock);
        backOff.Next("k", clock.GetUtcNow());
        backOff.Next("k", clock.GetUtcNow());
        Assert.Equal(TimeSpan.FromSeconds(20), backOff.Current("k"));
        Assert.Equal(TimeSpan.FromSeconds(10), backOff.Next("k", clock.GetUtcNow(), ranFor: TimeSpan.FromMinutes(10)));
    }

    [Fact]
    public void An_entry_idle_for_twice_the_maximum_is_forgotten()
    {
        var clock = new FakeTimeProvider();
        var backOff = new CrashLoopBackOff(clock);
        backOff.Next("k", clock.GetUtcNow());
        backOff.Next("k", clock.GetUtcNow());
        clock.Advance(TimeSpan.FromMinutes(11));
        Assert.False(backOff.IsInBackOffSince("k", clock.GetUtcNow(), out _, out _));
        Assert.Equal(TimeSpan.FromSeconds(10), backOff.Next("k", clock.GetUtcNow()));
    }
}

/// <summary>The status rules that need no runtime.</summary>
public sealed class PodStatusRulesTests
{
    private static V1Pod Pod(string restartPolicy) => new() { Spec = new V1PodSpec { RestartPolicy = restartPolicy, Containers = [new V1Container { Name = "a" }] } };
    private static V1ContainerStatus Running => new() { Name = "a", State = new V1ContainerState { Running = new V1ContainerStateRunning() } };
    private static V1ContainerStatus Exited(int code) => new() { Name = "a", State = new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = code } } };
    private static V1ContainerStatus Waiting(int? lastExit) => new()
    {
        Name = "a",
        State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "CrashLoopBackOff" } },
        LastState = lastExit is { } c ? new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = c } } : new V1ContainerState(),
    };

    [Theory]
    [InlineData("Always", 0, "Running")]
    [InlineData("Always", 1, "Running")]
    [InlineData("OnFailure", 0, "Succeeded")]
    [InlineData("OnFailure", 1, "Running")]
    [InlineData("Never", 0, "Succeeded")]
    [InlineData("Never", 1, "Failed")]
    public void PhaseOfExitedContainersFollowsRestartPolicy(string policy, int exitCode, string phase)
        => Assert.Equal(phase, PodStatusGenerator.GetPhase(Pod(policy), [], [Exited(exitCode)]));

    [Fact]
    public void Phase_is_pending_until_containers_start_and_failed_when_init_fails_with_never()
    {
        Assert.Equal("Pending", PodStatusGenerator.GetPhase(Pod("Always"), [], [Waiting(null)]));
        Assert.Equal("Running", PodStatusGenerator.GetPhase(Pod("Always"), [], [Waiting(1)]));
        Assert.Equal("Running", PodStatusGenerator.GetPhase(Pod("Always"), [], [Running]));
        Assert.Equal("Pending", PodStatusGenerator.GetPhase(Pod("Always"), [Running], [Waiting(null)]));
        Assert.Equal("Failed", PodStatusGenerator.GetPhase(Pod("Never"), [Exited(1)], [Waiting(null)]));
    }

    [Theory]
    [InlineData("$(A)-$(B)", "1-$(B)")]
    [InlineData("$$(A)", "$(A)")]
    [InlineData("x$(A)y$", "x1y$")]
    [InlineData("$(", "$(")]
    public void VariableExpansionFollowsKubernetes(string input, string expected)
        => Assert.Equal(expected, EnvExpansion.Expand(input, n => n == "A" ? "1" : null));

    [Fact]
    public void Qos_class_from_requests_and_limits()
    {
        var pod = Pod("Always");
        Assert.Equal("BestEffort", KubeletPS.Core.Pods.KubeRuntime.PodRuntimeSpecs.QosClass(pod));
        pod.Spec.Containers[0].Resources = new V1ResourceRequirements { Limits = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("500m"), ["memory"] = new("64Mi") } };
        Assert.Equal("Guaranteed", KubeletPS.Core.Pods.KubeRuntime.PodRuntimeSpecs.QosClass(pod));
        var r = KubeletPS.Core.Pods.KubeRuntime.PodRuntimeSpecs.Resources(pod, pod.Spec.Containers[0]);
        Assert.Equal(512, r.CpuShares);
        Assert.Equal(50_000, r.CpuQuota);
        Assert.Equal(100_000, r.CpuPeriod);
        Assert.Equal(64 * 1024 * 1024, r.MemoryLimitInBytes);
        pod.Spec.Containers[0].Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("100m") } };
        Assert.Equal("Burstable", KubeletPS.Core.Pods.KubeRuntime.PodRuntimeSpecs.QosClass(pod));
    }
}
