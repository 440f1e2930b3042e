using k8s.Models;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Tests.Pods;

/// <summary>The pod sync agent's containers: restart policies, crash-loop back-off, probes, init containers and sidecars.</summary>
public sealed partial class PodSyncTests
{
    [Fact]
    public async Task Crashing_container_backs_off_with_doubling_delays()
    {
        // Compressed back-off: 1 s doubling (kubelet: 10 s doubling to 5 min); the same code path.
        await using var h = fixture.NewAgent(backOffBase: TimeSpan.FromSeconds(1), backOffMax: TimeSpan.FromSeconds(8));
        h.Write("crash.yaml", Pod("crash", Container("main", "exit 3")));
        var pod = await h.WaitForPodAsync("crash", p => p.Metadata.Uid is not null, "known");
        var uid = pod.Metadata.Uid;

        // Every instance's start and finish, straight from the runtime.
        var seen = new Dictionary<string, (int Restart, DateTimeOffset Started, DateTimeOffset Finished)>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
        while (seen.Count < 5 && DateTime.UtcNow < deadline)
        {
            foreach (var c in await h.ContainersAsync(uid))
            {
                if (seen.ContainsKey(c.Id)) continue;
                try
                {
                    var s = await h.Client.ContainerStatusAsync(c.Id);
                    if (s is { State: ContainerState.Exited, StartedAt: { } started, FinishedAt: { } finished })
                        seen[c.Id] = (int.Parse(s.Annotations[KubeletLabels.ContainerRestartCount]), started, finished);
                }
                catch (KubeletRuntimeException) { }
            }
            await Task.Delay(100);
        }
        var runs = seen.Values.OrderBy(r => r.Restart).ToList();
        Assert.True(runs.Count >= 5, $"only {runs.Count} runs seen: {h.Log}");
        Assert.Equal(Enumerable.Range(0, runs.Count), runs.Select(r => r.Restart));
        // The first restart is immediate; then 1 s, 2 s, 4 s after the previous run finished.
        double[] expected = [0, 1, 2, 4];
        for (var i = 1; i < 5; i++)
        {
            var gap = (runs[i].Started - runs[i - 1].Finished).TotalSeconds;
            Assert.True(gap >= expected[i - 1] - 0.05, $"restart {i} came {gap:F2}s after the previous exit; the back-off is {expected[i - 1]}s");
            Assert.True(gap < expected[i - 1] + 3, $"restart {i} came {gap:F2}s after the previous exit; expected about {expected[i - 1]}s");
        }
        var status = await h.WaitForPodAsync("crash", p => p.Status?.ContainerStatuses?[0].State?.Waiting?.Reason == "CrashLoopBackOff", "CrashLoopBackOff");
        var cs = status.Status.ContainerStatuses[0];
        Assert.Equal(3, cs.LastState.Terminated.ExitCode);
        Assert.Equal("Error", cs.LastState.Terminated.Reason);
        Assert.Contains("back-off", cs.State.Waiting.Message);
    }

    [Fact]
    public async Task Restart_policy_on_failure_and_never()
    {
        await using var h = fixture.NewAgent();
        h.Write("ok.yaml", Pod("ok", Container("main", "echo done"), restartPolicy: "OnFailure"));
        h.Write("retry.yaml", Pod("retry", Container("main", "exit 1"), restartPolicy: "OnFailure"));
        h.Write("never.yaml", Pod("never", Container("main", "exit 2"), restartPolicy: "Never"));

        var ok = await h.WaitForPodAsync("ok", p => p.Status?.Phase == "Succeeded", "Succeeded");
        Assert.Equal("Completed", ok.Status.ContainerStatuses[0].State.Terminated.Reason);
        Assert.Equal(0, ok.Status.ContainerStatuses[0].RestartCount);
        Assert.Equal("PodCompleted", ok.Status.Conditions.Single(c => c.Type == "Ready").Reason);

        var never = await h.WaitForPodAsync("never", p => p.Status?.Phase == "Failed", "Failed");
        Assert.Equal(2, never.Status.ContainerStatuses[0].State.Terminated.ExitCode);
        Assert.Equal(0, never.Status.ContainerStatuses[0].RestartCount);

        var retry = await h.WaitForPodAsync("retry", p => p.Status?.ContainerStatuses?[0].RestartCount >= 1, "restarted");
        Assert.Equal("Running", retry.Status.Phase);

        // Finished pods stop their sandbox.
        await PodSyncFixture.WaitForAsync(() => h.SandboxesAsync(ok.Metadata.Uid), s => s.All(x => x.State == PodSandboxState.NotReady), "ok's sandbox stopped");
        await PodSyncFixture.WaitForAsync(() => h.SandboxesAsync(never.Metadata.Uid), s => s.All(x => x.State == PodSandboxState.NotReady), "never's sandbox stopped");
    }

    [Fact]
    public async Task A_liveness_probe_that_cannot_run_is_not_counted_as_a_failure()
    {
        await using var h = fixture.NewAgent();
        h.Write("errored.yaml", Pod("errored", Container("main", "sleep 3600", """
                livenessProbe:
                  tcpSocket: {port: no-such-port}
                  periodSeconds: 1
                  failureThreshold: 1
        """)));
        var pod = await h.WaitForRunningAsync("errored");
        // Several probe runs errored (the port name is unknown) ...
        await PodSyncFixture.WaitForAsync(() => h.Log.Lines.Count(l => l.Message.Contains("pod errored-node1 container main: liveness probe errored, not counted", StringComparison.Ordinal)),
            n => n >= 3, "three errored liveness probe runs");
        // ... and, as in kubelet, none of them counted as a failure: the container was never killed.
        var now = h.Pod("errored")!;
        Assert.Equal(0, now.Status.ContainerStatuses[0].RestartCount);
        Assert.Equal(pod.Status.ContainerStatuses[0].ContainerID, now.Status.ContainerStatuses[0].ContainerID);
        Assert.DoesNotContain(h.Log.Lines, l => l.Message.Contains("failed liveness probe", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Failing_exec_liveness_probe_restarts_the_container()
    {
        await using var h = fixture.NewAgent();
        h.Write("live.yaml", Pod("live", Container("main", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600", """
                livenessProbe:
                  exec: {command: [cat, /tmp/healthy]}
                  periodSeconds: 1
                  failureThreshold: 1
        """)));
        var first = await h.WaitForRunningAsync("live");
        var firstId = first.Status.ContainerStatuses[0].ContainerID;
        var restarted = await h.WaitForPodAsync("live", p => p.Status?.ContainerStatuses?[0] is { RestartCount: 1, State.Running: not null }, "restarted once", TimeSpan.FromSeconds(30));
        var cs = restarted.Status.ContainerStatuses[0];
        Assert.NotEqual(firstId, cs.ContainerID);
        Assert.Equal(firstId, cs.LastState.Terminated.ContainerID);
        Assert.NotEqual(0, cs.LastState.Terminated.ExitCode);
        Assert.Contains(h.Log.Lines, l => l.Message.Contains("failed liveness probe", StringComparison.Ordinal));
        // Kubelet's events: Unhealthy with the command's output on the container, then Killing with the reason.
        var unhealthy = h.Events.WithReason("Unhealthy")[0];
        Assert.Equal(("Warning", "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory\n"), (unhealthy.Type, unhealthy.Message));
        Assert.Equal(("Pod", "live-node1", "spec.containers{main}"), (unhealthy.InvolvedObject.Kind, unhealthy.InvolvedObject.Name, unhealthy.InvolvedObject.FieldPath));
        Assert.Contains(h.Events.WithReason("Killing"), e => e.Type == "Normal" && e.Message == "Container main failed liveness probe, will be restarted");
    }

    [Fact]
    public async Task Readiness_probe_flips_ready()
    {
        await using var h = fixture.NewAgent();
        h.Write("ready.yaml", Pod("ready", Container("main", "sleep 2; touch /tmp/ready; sleep 3600", """
                readinessProbe:
                  exec: {command: [cat, /tmp/ready]}
                  periodSeconds: 1
        """)));
        var notReady = await h.WaitForPodAsync("ready", p => p.Status?.ContainerStatuses?[0].State?.Running is not null, "running");
        Assert.Equal("False", notReady.Status.Conditions.Single(c => c.Type == "Ready").Status);
        Assert.Equal("ContainersNotReady", notReady.Status.Conditions.Single(c => c.Type == "Ready").Reason);
        var ready = await h.WaitForPodAsync("ready", p => p.Status.Conditions.Single(c => c.Type == "Ready").Status == "True", "Ready");
        Assert.True(ready.Status.ContainerStatuses[0].Ready);
        // Removing the file makes it unready again.
        var id = ready.Status.ContainerStatuses[0].ContainerID["containerd://".Length..];
        await h.Client.ExecSyncAsync(id, ["rm", "/tmp/ready"], TimeSpan.FromSeconds(5));
        await h.WaitForPodAsync("ready", p => p.Status.Conditions.Single(c => c.Type == "Ready").Status == "False", "unready again");
    }

    [Fact]
    public async Task Init_containers_run_in_order_on_a_shared_emptyDir()
    {
        await using var h = fixture.NewAgent();
        var yaml = WorkPod("init", "Always",
            [Container("first", "sleep 1; echo 1 >> /work/log", WorkMount), Container("second", "echo 2 >> /work/log", WorkMount)],
            [Container("app", "tr '\\n' ' ' < /work/log > /work/seen; sleep 3600", WorkMount)]);
        h.Write("init.yaml", yaml);
        var pod = await h.WaitForRunningAsync("init");
        Assert.All(pod.Status.InitContainerStatuses, s => Assert.Equal("Completed", s.State.Terminated.Reason));
        Assert.Equal("True", pod.Status.Conditions.Single(c => c.Type == "Initialized").Status);
        var seen = Path.Combine(h.RootDirectory, "pods", pod.Metadata.Uid, "volumes", "kubernetes.io~empty-dir", "work", "seen");
        var text = await PodSyncFixture.WaitForAsync(() => File.Exists(seen) ? File.ReadAllText(seen) : "", t => t.Length > 0, "app output");
        Assert.Equal("1 2", text.Trim());
    }

    [Fact]
    public async Task Sidecar_starts_before_the_next_init_container_restarts_under_a_never_pod_and_stops_when_the_app_succeeds()
    {
        await using var h = fixture.NewAgent();
        var yaml = WorkPod("side", "Never",
            [Container("proxy", "echo proxy >> /work/log; sleep 2; exit 3", WorkMount + "\nrestartPolicy: Always"), Container("setup", "echo setup >> /work/log", WorkMount)],
            [Container("app", "until [ $(grep -c proxy /work/log) -ge 2 ]; do sleep 0.2; done; echo app >> /work/log; sleep 3", WorkMount)]);
        h.Write("side.yaml", yaml);

        // The app runs while the sidecar exits and is restarted, although the pod's restartPolicy is Never.
        var running = await h.WaitForPodAsync("side", p => p.Status?.ContainerStatuses?[0].State?.Running is not null
            && p.Status.InitContainerStatuses?.Single(c => c.Name == "proxy").RestartCount >= 1, "app running and the sidecar restarted", TimeSpan.FromSeconds(60));
        Assert.Equal("Running", running.Status.Phase);
        Assert.Equal("True", running.Status.Conditions.Single(c => c.Type == "Initialized").Status);
        Assert.Equal(0, running.Status.ContainerStatuses[0].RestartCount);
        Assert.Equal(0, running.Status.InitContainerStatuses.Single(c => c.Name == "setup").State.Terminated.ExitCode);

        // The app exits 0: the pod Succeeded, the sidecar is stopped rather than restarted.
        var done = await h.WaitForPodAsync("side", p => p.Status?.Phase == "Succeeded", "Succeeded", TimeSpan.FromSeconds(60));
        await PodSyncFixture.WaitForAsync(() => h.ContainersAsync(done.Metadata.Uid), cs => cs.All(c => c.State != ContainerState.Running), "no container running");
        var log = await File.ReadAllLinesAsync(Path.Combine(h.RootDirectory, "pods", done.Metadata.Uid, "volumes", "kubernetes.io~empty-dir", "work", "log"));
        Assert.Equal(["proxy", "setup"], log.Take(2));
        Assert.Contains("app", log);
    }

    [Fact]
    public async Task Static_pod_with_a_service_account_token_waits_with_CreateContainerConfigError()
    {
        await using var h = fixture.NewAgent();
        var yaml = $"""
            apiVersion: v1
            kind: Pod
            metadata: {"{name: token}"}
            spec:
              terminationGracePeriodSeconds: 2
              volumes:
              - name: kube-api-access-abcde
                projected:
                  sources:
                  - serviceAccountToken: {"{path: token, expirationSeconds: 3607}"}
              containers:
            {Container("app", "sleep 3600", "volumeMounts: [{name: kube-api-access-abcde, mountPath: /var/run/secrets/kubernetes.io/serviceaccount}]")}
            """;
        h.Write("token.yaml", yaml);
        var pod = await h.WaitForPodAsync("token", p => p.Status?.ContainerStatuses?[0].State?.Waiting?.Reason == "CreateContainerConfigError", "CreateContainerConfigError");
        var message = pod.Status.ContainerStatuses[0].State.Waiting.Message;
        Assert.Contains("volume \"kube-api-access-abcde\": serviceAccountToken of serviceaccount \"default\" needs the API server", message);
        Assert.Empty(await h.ContainersAsync(pod.Metadata.Uid));
    }
}
