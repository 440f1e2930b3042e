using k8s.Models;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Probes;
using KubeletPS.Core.Pods.Workers;
using KubeletPS.Core.Runtime;
using Microsoft.Extensions.Time.Testing;
using static KubeletPS.Core.Tests.Pods.KubeRuntime.PodActionsTable;

namespace KubeletPS.Core.Tests.Pods.KubeRuntime;

/// <summary>
/// The decision alone, as kubelet's TestComputePodActions, TestComputePodActionsWithInitContainers and
/// TestComputePodActionsWithRestartableInitContainers test it: a pod and what the runtime has of it
/// in, the actions out. No runtime is called (the decision has none to call).
/// </summary>
public sealed class ComputePodActionsTests
{
    private sealed record Case(V1Pod Pod, Func<StatusBuilder, StatusBuilder> Runtime, string Expected, Action<ProbeResults>? SetProbes = null);

    private static readonly Dictionary<string, Case> Cases = new()
    {
        // Sandbox
        ["new pod: sandbox attempt 0, every container started"] = new(Pod(containers: ["a", "b"]), s => s, "createSandbox(0) start=[a#0, b#0]"),
        ["everything running: nothing to do"] = new(Pod(), s => s.Sandbox("s1").Container("app", "s1", ContainerState.Running), "nothing"),
        ["sandbox not ready: kill the pod, next attempt, containers restarted"] = new(Pod(),
            s => s.Sandbox("s1", attempt: 2, state: PodSandboxState.NotReady).Container("app", "s1", ContainerState.Exited, exitCode: 137),
            "killPod createSandbox(3) start=[app#1]"),
        ["sandbox without an IP outside the host network: recreated"] = new(Pod(), s => s.Sandbox("s1", ip: null).Container("app", "s1", ContainerState.Running),
            "killPod createSandbox(1) start=[app#1]"),
        ["host network sandbox without an IP: kept"] = new(Pod(hostNetwork: true), s => s.Sandbox("s1", ip: null).Container("app", "s1", ContainerState.Running), "nothing"),
        ["several ready sandboxes: kill the pod, recreate after the newest"] = new(Pod(),
            s => s.Sandbox("s1").Sandbox("s2", attempt: 1).Container("app", "s2", ContainerState.Running), "killPod createSandbox(2) start=[app#1]"),
        ["sandbox network namespace not the pod's: recreated"] = new(Pod(hostNetwork: true),
            s => s.Sandbox("s1", ip: "10.88.0.2", hostNetwork: false).Container("app", "s1", ContainerState.Running), "killPod createSandbox(1) start=[app#1]"),
        ["Never pod whose sandbox died after its containers ran: killed, not recreated"] = new(Pod("Never"),
            s => s.Sandbox("s1", state: PodSandboxState.NotReady).Container("app", "s1", ContainerState.Exited, exitCode: 0), "killPod"),
        ["OnFailure pod, sandbox died, containers succeeded: killed, not recreated"] = new(Pod("OnFailure"),
            s => s.Sandbox("s1", state: PodSandboxState.NotReady).Container("app", "s1", ContainerState.Exited, exitCode: 0), "killPod"),
        ["OnFailure pod, sandbox died, a container failed: recreated"] = new(Pod("OnFailure"),
            s => s.Sandbox("s1", state: PodSandboxState.NotReady).Container("app", "s1", ContainerState.Exited, exitCode: 2), "killPod createSandbox(1) start=[app#1]"),

        // Restart policies in a ready sandbox
        ["Always: an exited container is restarted"] = new(Pod("Always"), s => s.Sandbox("s1").Container("app", "s1", ContainerState.Exited, exitCode: 0), "start=[app#1]"),
        ["OnFailure: a container that succeeded stays exited"] = new(Pod("OnFailure"), s => s.Sandbox("s1").Container("app", "s1", ContainerState.Exited, exitCode: 0), "nothing"),
        ["OnFailure: a failed container is restarted"] = new(Pod("OnFailure"), s => s.Sandbox("s1").Container("app", "s1", ContainerState.Exited, exitCode: 1, restartCount: 3), "start=[app#4]"),
        ["Never: a failed container stays exited (a terminal pod: nothing started)"] = new(Pod("Never", containers: ["a", "b"]),
            s => s.Sandbox("s1").Container("a", "s1", ContainerState.Exited, exitCode: 1).Container("b", "s1", ContainerState.Exited, exitCode: 0), "nothing"),
        ["a created but never started container is started again"] = new(Pod(), s => s.Sandbox("s1").Container("app", "s1", ContainerState.Created), "start=[app#1]"),

        // Changed spec and probes
        ["changed spec hash: killed and recreated"] = new(Pod(), s => s.Sandbox("s1").Container("app", "s1", ContainerState.Running, hash: "0badc0de"),
            "kill=[app-0: Container app definition changed, will be restarted] start=[app#1]"),
        ["changed spec hash under Never: still recreated"] = new(Pod("Never"), s => s.Sandbox("s1").Container("app", "s1", ContainerState.Running, hash: "0badc0de"),
            "kill=[app-0: Container app definition changed, will be restarted] start=[app#1]"),
        ["liveness failure: killed and restarted"] = new(Pod(), s => s.Sandbox("s1").Container("app", "s1", ContainerState.Running),
            "kill=[app-0: Container app failed liveness probe, will be restarted] start=[app#1]", p => p.Failed["app-0"] = ProbeType.Liveness),
        ["startup failure: killed and restarted"] = new(Pod("OnFailure"), s => s.Sandbox("s1").Container("app", "s1", ContainerState.Running),
            "kill=[app-0: Container app failed startup probe, will be restarted] start=[app#1]", p => p.Failed["app-0"] = ProbeType.Startup),
        ["liveness failure under Never: killed, not restarted"] = new(Pod("Never"), s => s.Sandbox("s1").Container("app", "s1", ContainerState.Running),
            "kill=[app-0: Container app failed liveness probe]", p => p.Failed["app-0"] = ProbeType.Liveness),

        // Init containers
        ["new pod with init containers: the first init container only"] = new(Pod(inits: [Container("i1"), Container("i2")]), s => s, "createSandbox(0) next=i1#0"),
        ["init containers run in order"] = new(Pod(inits: [Container("i1"), Container("i2")]),
            s => s.Sandbox("s1").Container("i1", "s1", ContainerState.Exited, exitCode: 0), "next=i2#0"),
        ["an init container running: wait for it"] = new(Pod(inits: [Container("i1"), Container("i2")]), s => s.Sandbox("s1").Container("i1", "s1", ContainerState.Running), "nothing"),
        ["init containers done: app containers start"] = new(Pod(inits: [Container("i1")], containers: ["a", "b"]),
            s => s.Sandbox("s1").Container("i1", "s1", ContainerState.Exited, exitCode: 0), "start=[a#0, b#0]"),
        ["failed init container under Never: the pod is killed"] = new(Pod("Never", inits: [Container("i1")]),
            s => s.Sandbox("s1").Container("i1", "s1", ContainerState.Exited, exitCode: 1), "killPod"),
        ["failed init container under Always: restarted"] = new(Pod("Always", inits: [Container("i1")]),
            s => s.Sandbox("s1").Container("i1", "s1", ContainerState.Exited, exitCode: 1), "next=i1#1"),
        ["failed init container under OnFailure: restarted"] = new(Pod("OnFailure", inits: [Container("i1")]),
            s => s.Sandbox("s1").Container("i1", "s1", ContainerState.Exited, exitCode: 1, restartCount: 1), "next=i1#2"),
        ["sandbox recreated: init containers run again from the first"] = new(Pod(inits: [Container("i1")]),
            s => s.Sandbox("s1", state: PodSandboxState.NotReady).Container("i1", "s1", ContainerState.Exited, exitCode: 0).Container("app", "s1", ContainerState.Exited, exitCode: 137),
            "killPod createSandbox(1) next=i1#1"),

        // Sidecars (restartable init containers)
        ["new pod with a sidecar: the sidecar first"] = new(Pod(inits: [Sidecar("side"), Container("i1")]), s => s, "createSandbox(0) next=side#0"),
        ["sidecar running: the next init container runs beside it"] = new(Pod(inits: [Sidecar("side"), Container("i1")]),
            s => s.Sandbox("s1").Container("side", "s1", ContainerState.Running), "next=i1#0"),
        ["sidecar running, its startup probe not passed: wait"] = new(Pod(inits: [Sidecar("side", startupProbe: true), Container("i1")]),
            s => s.Sandbox("s1").Container("side", "s1", ContainerState.Running), "nothing"),
        ["sidecar started (startup probe passed): the next init container"] = new(Pod(inits: [Sidecar("side", startupProbe: true), Container("i1")]),
            s => s.Sandbox("s1").Container("side", "s1", ContainerState.Running), "next=i1#0", p => p.Started.Add("side-0")),
        ["sidecar running, init done: app containers start, the sidecar is kept"] = new(Pod(inits: [Sidecar("side"), Container("i1")]),
            s => s.Sandbox("s1").Container("side", "s1", ContainerState.Running).Container("i1", "s1", ContainerState.Exited), "start=[app#0]"),
        ["sidecar exited after the pod initialized: restarted, even under Never"] = new(Pod("Never", inits: [Sidecar("side")]),
            s => s.Sandbox("s1").Container("side", "s1", ContainerState.Exited, exitCode: 0).Container("app", "s1", ContainerState.Running), "start=[side#1]"),
        ["sidecar exited before the app containers exist: restarted first"] = new(Pod(inits: [Sidecar("side"), Container("i1")]),
            s => s.Sandbox("s1").Container("side", "s1", ContainerState.Exited, exitCode: 1), "next=side#1"),
        ["sidecar with a changed spec once initialized: recreated"] = new(Pod(inits: [Sidecar("side")]),
            s => s.Sandbox("s1").Container("side", "s1", ContainerState.Running, hash: "0badc0de").Container("app", "s1", ContainerState.Running),
            "kill=[side-0: Container side definition changed, will be restarted] start=[side#1]"),
    };

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Pod_actions(string name)
    {
        var c = Cases[name];
        var probes = new ProbeResults();
        c.SetProbes?.Invoke(probes);
        var status = c.Runtime(new StatusBuilder(c.Pod)).Build();
        var actions = PodActionDecisions.ComputePodActions(c.Pod, status, probes, new CrashLoopBackOff(new FakeTimeProvider(T0.AddHours(1))));
        Assert.Equal(c.Expected, Summary(actions));
    }

    [Theory]
    [InlineData("Always", false)]
    [InlineData("OnFailure", false)]
    [InlineData("Always", true)]
    public void A_crash_looping_container_waits_out_its_back_off_then_starts(string restartPolicy, bool init)
    {
        var clock = new FakeTimeProvider(T0.AddHours(1));
        var backOff = new CrashLoopBackOff(clock);
        var pod = init ? Pod(restartPolicy, inits: [Container("i1")]) : Pod(restartPolicy);
        var name = init ? "i1" : "app";
        var status = new StatusBuilder(pod).Sandbox("s1").Container(name, "s1", ContainerState.Exited, exitCode: 1, restartCount: 1, finishedAgo: TimeSpan.FromSeconds(4), now: clock.GetUtcNow()).Build();
        // The restart before this one set a 10 s back-off, counted from when the container finished.
        var finished = status.Latest(name)!.Status.FinishedAt!.Value;
        backOff.Next(PodActionDecisions.BackOffKey(pod, (init ? pod.Spec.InitContainers : pod.Spec.Containers)[0]), finished);

        Assert.Equal($"backOff=[{name} 6s]", Summary(PodActionDecisions.ComputePodActions(pod, status, new ProbeResults(), backOff)));
        clock.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(init ? "next=i1#2" : "start=[app#2]", Summary(PodActionDecisions.ComputePodActions(pod, status, new ProbeResults(), backOff)));
    }

    [Fact]
    public void Only_containers_in_the_latest_sandbox_count_as_the_pods()
    {
        // An app container that ran in an older sandbox does not make the pod initialized in this one.
        var pod = Pod(inits: [Container("i1")]);
        var status = new StatusBuilder(pod).Sandbox("old", state: PodSandboxState.NotReady).Container("app", "old", ContainerState.Exited, exitCode: 137)
            .Sandbox("new", attempt: 1).Build();
        Assert.Equal("next=i1#0", Summary(PodActionDecisions.ComputePodActions(pod, status, new ProbeResults(), new CrashLoopBackOff())));
    }
}
