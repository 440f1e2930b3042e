using k8s.Models;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Tests.Pods;

/// <summary>The pod sync agent against a real (private) containerd: static pods in, running containers and kubelet's statuses out.</summary>
[Collection(PodSyncCollection.Name)]
public sealed class PodSyncTests(PodSyncFixture fixture)
{
    private const string Image = "kubeletps.local/busybox:latest";

    private static string Pod(string name, string containers, string extra = "", string restartPolicy = "Always", int grace = 2) => $"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {name}
          labels:
            app: {name}
        spec:
          restartPolicy: {restartPolicy}
          terminationGracePeriodSeconds: {grace}
        {extra}
          containers:
        {containers}
        """;

    private static string Container(string name, string script, string more = "") => $"""
          - name: {name}
            image: {Image}
            imagePullPolicy: IfNotPresent
            command: ["sh", "-c", {System.Text.Json.JsonSerializer.Serialize(script)}]
        {Indent(more, 4)}
        """;

    private const string WorkMount = "volumeMounts: [{name: work, mountPath: /work}]";

    /// <summary>A pod whose init and app containers share the emptyDir "work" at /work.</summary>
    private static string WorkPod(string name, string restartPolicy, string[] initContainers, string[] containers) => $"""
        apiVersion: v1
        kind: Pod
        metadata: {"{"}name: {name}{"}"}
        spec:
          restartPolicy: {restartPolicy}
          terminationGracePeriodSeconds: 2
          volumes: [{"{name: work, emptyDir: {}}"}]
          initContainers:
        {string.Join("\n", initContainers)}
          containers:
        {string.Join("\n", containers)}
        """;

    /// <summary>Re-indents a YAML fragment written at any indentation to <paramref name="spaces"/>.</summary>
    private static string Indent(string text, int spaces)
    {
        var lines = text.Split('\n').Where(l => l.Trim().Length > 0).ToList();
        if (lines.Count == 0) return "";
        var common = lines.Min(l => l.Length - l.TrimStart().Length);
        return string.Join("\n", lines.Select(l => new string(' ', spaces) + l[common..]));
    }

    [Fact]
    public async Task Static_pod_starts_and_reports_running_with_ip_and_probes()
    {
        await using var h = fixture.NewAgent();
        h.Write("web.yaml", Pod("web", Container("httpd", "mkdir -p /www && echo $(POD_NAME) on $(NODE) > /www/index.html && exec httpd -f -p 8080 -h /www", """
                env:
                - name: POD_NAME
                  valueFrom: {fieldRef: {fieldPath: metadata.name}}
                - name: NODE
                  valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
                - name: GREETING
                  value: "hello $(POD_NAME)"
                ports:
                - {name: http, containerPort: 8080}
                readinessProbe:
                  httpGet: {path: /index.html, port: http}
                  periodSeconds: 1
                livenessProbe:
                  tcpSocket: {port: 8080}
                  periodSeconds: 1
                resources:
                  limits: {cpu: 250m, memory: 64Mi}
        """), extra: """
              subdomain: web
              hostAliases: [{ip: 10.1.2.3, hostnames: [foo.remote, bar.remote]}]
            """));

        var pod = await h.WaitForPodAsync("web", p => p.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true, "Ready");
        var status = pod.Status;
        Assert.Equal("Running", status.Phase);
        Assert.False(string.IsNullOrEmpty(status.PodIP));
        Assert.Equal("Guaranteed", status.QosClass);
        var container = Assert.Single(status.ContainerStatuses);
        Assert.True(container.Ready);
        Assert.StartsWith("containerd://", container.ContainerID);
        Assert.StartsWith("sha256:", container.ImageID);
        Assert.Equal(0, container.RestartCount);
        Assert.All(new[] { "PodScheduled", "Initialized", "ContainersReady", "Ready" }, t => Assert.Equal("True", status.Conditions.Single(c => c.Type == t).Status));

        // The status is in the local store, as Get-KubeletPod reads it.
        var stored = await PodSyncFixture.WaitForAsync(() => h.Agent.StatusStore.Load(pod.Metadata.Uid), p => p?.Status?.PodIP == status.PodIP, "stored status");
        Assert.Equal("web-node1", stored!.Metadata.Name);

        // Env: fieldRefs and $(VAR) expansion, seen by the server.
        using var http = new HttpClient();
        Assert.Equal("web-node1 on node1", (await http.GetStringAsync($"http://{status.PodIP}:8080/index.html")).Trim());
        var id = container.ContainerID["containerd://".Length..];
        var env = await h.Client.ExecSyncAsync(id, ["sh", "-c", "echo $GREETING"], TimeSpan.FromSeconds(5));
        Assert.Equal("hello web-node1", env.Stdout.Trim());

        // Kubelet's labels and annotations, the hostname and the memory limit.
        var info = await h.Client.ContainerStatusAsync(id);
        Assert.Equal("httpd", info.Labels[KubeletLabels.ContainerName]);
        Assert.Equal(pod.Metadata.Uid, info.Labels[KubeletLabels.PodUid]);
        Assert.Equal("0", info.Annotations[KubeletLabels.ContainerRestartCount]);
        Assert.False(string.IsNullOrEmpty(info.Annotations[KubeletLabels.ContainerHash]));
        Assert.Equal("web-node1", (await h.Client.ExecSyncAsync(id, ["hostname"], TimeSpan.FromSeconds(5))).Stdout.Trim());
        var resolv = (await h.Client.ExecSyncAsync(id, ["cat", "/etc/resolv.conf"], TimeSpan.FromSeconds(5))).Stdout;
        Assert.Contains("nameserver 10.96.0.10", resolv);
        Assert.Contains("default.svc.cluster.local", resolv);

        // Kubelet's managed /etc/hosts: localhost lines, the pod's IP with its FQDN (subdomain set), the host aliases.
        var hosts = (await h.Client.ExecSyncAsync(id, ["cat", "/etc/hosts"], TimeSpan.FromSeconds(5))).Stdout;
        Assert.StartsWith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n", hosts);
        Assert.Contains($"\n{status.PodIP}\tweb-node1.web.default.svc.cluster.local\tweb-node1\n", hosts);
        Assert.EndsWith("\n# Entries added by HostAliases.\n10.1.2.3\tfoo.remote\tbar.remote\n", hosts);
    }

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

    [Fact]
    public async Task Removed_manifest_stops_the_pod_within_its_grace_period()
    {
        await using var h = fixture.NewAgent();
        var marks = Directory.CreateDirectory(Path.Combine(h.RootDirectory, "marks-gone")).FullName;
        // On SIGTERM the container takes a second to finish, then exits 0; a kill before its grace period (30 s) ended would
        // leave "term" without "done". (How long the removal takes is a figure of the PodRemoval benchmark, not asserted here.)
        h.Write("gone.yaml", Pod("gone", Container("main",
                "trap 'echo term >> /marks/state; sleep 1; echo done >> /marks/state; exit 0' TERM; echo up > /marks/state; while true; do sleep 0.2; done",
                "volumeMounts: [{name: marks, mountPath: /marks}]"),
            extra: $"  volumes: [{{name: marks, hostPath: {{path: {marks}}}}}]", grace: 30));
        var pod = await h.WaitForRunningAsync("gone");
        var uid = pod.Metadata.Uid;
        // The status store is written after the status the pod shows (under load, not yet when Running is seen).
        await PodSyncFixture.WaitForAsync(() => h.Agent.StatusStore.Load(uid), stored => stored is not null, "the pod's status stored", TimeSpan.FromSeconds(20));
        await PodSyncFixture.WaitForAsync(() => File.Exists(Path.Combine(marks, "state")), up => up, "the container started its loop", TimeSpan.FromSeconds(20));
        h.Remove("gone.yaml");
        await PodSyncFixture.WaitForAsync(() => h.SandboxesAsync(uid), s => s.Count == 0, "sandbox removed", TimeSpan.FromSeconds(60));
        Assert.Equal("up\nterm\ndone\n", File.ReadAllText(Path.Combine(marks, "state")));
        Assert.Empty(await h.ContainersAsync(uid));
        Assert.Null(h.Agent.StatusStore.Load(uid));
        // The pod's directory goes after its sandbox (RemovePodAsync's last step): wait for it rather than race it.
        await PodSyncFixture.WaitForAsync(() => Directory.Exists(Path.Combine(h.RootDirectory, "pods", uid)), exists => !exists, "pod directory removed", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Edited_manifest_replaces_the_pod()
    {
        await using var h = fixture.NewAgent();
        h.Write("edit.yaml", Pod("edit", Container("main", "echo v1; sleep 3600")));
        var v1 = await h.WaitForRunningAsync("edit");
        h.Write("edit.yaml", Pod("edit", Container("main", "echo v2; sleep 3600")));
        var v2 = await h.WaitForPodAsync("edit", p => p.Metadata.Uid != v1.Metadata.Uid && p.Status?.ContainerStatuses?[0].State?.Running is not null, "new pod running");
        await PodSyncFixture.WaitForAsync(() => h.SandboxesAsync(v1.Metadata.Uid), s => s.Count == 0, "old sandbox removed");
        Assert.Single(await h.SandboxesAsync(v2.Metadata.Uid));
    }

    [Fact]
    public async Task A_burst_of_pods_creates_no_more_sandboxes_at_once_than_the_limit()
    {
        await using var h = fixture.NewAgent(maxParallelSandboxCreations: 1);
        for (var i = 0; i < 3; i++) h.Write($"burst-{i}.yaml", Pod($"burst-{i}", Container("main", "sleep 3600")));
        for (var i = 0; i < 3; i++) await h.WaitForRunningAsync($"burst-{i}");
        var sandboxes = Assert.Single(h.Agent.RuntimeOperations.Snapshot(), o => o.Operation == "RunPodSandbox");
        Assert.Equal(3, sandboxes.Calls);
        Assert.Equal(1, sandboxes.MaxInFlight);
        // Container starts are not held back by the limit.
        Assert.Equal(3, Assert.Single(h.Agent.RuntimeOperations.Snapshot(), o => o.Operation == "StartContainer").Calls);
    }

    [Fact]
    public async Task A_running_pod_is_not_read_again_for_the_relist_events_its_own_start_caused()
    {
        await using var h = fixture.NewAgent();
        h.Write("quiet.yaml", Pod("quiet", Container("main", "sleep 3600")));
        await h.WaitForRunningAsync("quiet");
        // The relist (every 500 ms here) sees the container Running (and the sandbox Ready, unless it
        // saw that before the worker's sync ended): already in the worker's read after it started them.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (h.Agent.PlegEventsAlreadySeen < 1 && DateTime.UtcNow < deadline) await Task.Delay(100);
        Assert.True(h.Agent.PlegEventsAlreadySeen >= 1, $"{h.Agent.PlegEventsAlreadySeen} PLEG events skipped");
        var reads = ContainerReads(h);
        await Task.Delay(TimeSpan.FromSeconds(2)); // four relists with nothing new
        Assert.Equal(reads, ContainerReads(h));

        // A change the worker did not make still wakes it: the container killed behind its back is restarted.
        await using (var client = fixture.Containerd.CreateClient())
        {
            var running = await client.ListContainersAsync(new ContainerFilter { State = ContainerState.Running });
            var main = Assert.Single(running, c => c.Labels.GetValueOrDefault(KubeletLabels.PodName) == "quiet-node1");
            await client.StopContainerAsync(main.Id, TimeSpan.Zero);
        }
        await h.WaitForPodAsync("quiet", p => p.Status?.ContainerStatuses?[0] is { RestartCount: 1, State.Running: not null }, "restarted once", TimeSpan.FromSeconds(30));
    }

    /// <summary>ContainerStatus calls so far: one per container each time a worker reads its pod from the runtime.</summary>
    private static long ContainerReads(AgentHarness h) =>
        h.Agent.RuntimeOperations.Snapshot().FirstOrDefault(o => o.Operation == "ContainerStatus")?.Calls ?? 0;

    [Fact]
    public async Task Restarted_agent_adopts_running_pods_without_restarting_them()
    {
        var manifests = Path.Combine(fixture.Containerd.BaseDir, "adopt-" + Guid.NewGuid().ToString("N")[..6]);
        var root = manifests + "-root";
        string uid;
        string containerId;
        string goneUid;
        await using (var first = fixture.NewAgent(manifests, root, stopPodsOnExit: false))
        {
            first.Write("keep.yaml", Pod("keep", Container("main", "sleep 3600")));
            first.Write("gone.yaml", Pod("gone", Container("main", "sleep 3600")));
            var pod = await first.WaitForRunningAsync("keep");
            goneUid = (await first.WaitForRunningAsync("gone")).Metadata.Uid;
            uid = pod.Metadata.Uid;
            containerId = pod.Status.ContainerStatuses[0].ContainerID;
        }
        // The agent is gone; its pods are not. One manifest is removed meanwhile.
        Assert.Contains(await fixture.Client.ListContainersAsync(), c => $"containerd://{c.Id}" == containerId && c.State == ContainerState.Running);
        File.Delete(Path.Combine(manifests, "gone.yaml"));

        await using var second = fixture.NewAgent(manifests, root, stopPodsOnExit: true);
        var adopted = await second.WaitForRunningAsync("keep");
        Assert.Equal(uid, adopted.Metadata.Uid);
        Assert.Equal(containerId, adopted.Status.ContainerStatuses[0].ContainerID);
        Assert.Equal(0, adopted.Status.ContainerStatuses[0].RestartCount);
        Assert.Single(await second.SandboxesAsync(uid));
        Assert.DoesNotContain(second.Log.Lines, l => l.Message.Contains("started container", StringComparison.Ordinal));
        // The pod whose manifest went while no agent ran is killed and removed on start.
        await PodSyncFixture.WaitForAsync(() => second.SandboxesAsync(goneUid), s => s.Count == 0, "the removed manifest's sandbox is gone");
        Assert.Empty(await second.ContainersAsync(goneUid));
    }

    [Fact]
    public async Task Agent_carries_on_when_containerd_restarts()
    {
        await using var h = fixture.NewAgent();
        h.Write("steady.yaml", Pod("steady", Container("main", "sleep 3600")));
        var before = await h.WaitForRunningAsync("steady");
        await fixture.Containerd.RestartAsync();
        // A pod added after the restart starts; the old one keeps its container.
        h.Write("later.yaml", Pod("later", Container("main", "sleep 3600")));
        await h.WaitForRunningAsync("later", TimeSpan.FromSeconds(45));
        var after = await h.WaitForRunningAsync("steady");
        Assert.Equal(before.Status.ContainerStatuses[0].ContainerID, after.Status.ContainerStatuses[0].ContainerID);
        Assert.Equal(0, after.Status.ContainerStatuses[0].RestartCount);
    }

    [Fact]
    public async Task Bad_manifests_are_reported_with_their_file_and_skipped()
    {
        await using var h = fixture.NewAgent();
        var invalid = h.Write("invalid.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n");
        var noName = h.Write("noname.yaml", Pod("x", Container("main", "sleep 3600")).Replace("  name: x\n", ""));
        h.Write("a-dup.yaml", Pod("dup", Container("main", "sleep 3600")));
        var dup = h.Write("b-dup.yaml", Pod("dup", Container("other", "sleep 3600")));
        var unknown = h.Write("unknown.yaml", Pod("unknown", Container("main", "sleep 3600", "        colour: blue")));
        h.Write("good.yaml", Pod("good", Container("main", "sleep 3600")));

        await h.WaitForRunningAsync("good");
        await h.WaitForRunningAsync("dup");
        // A file that does not parse is reported once it has not been written to for a second (it may be half-written).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (h.Agent.SourceErrors.Count < 4 && DateTime.UtcNow < deadline) await Task.Delay(100);
        var errors = h.Agent.SourceErrors;
        foreach (var file in new[] { invalid, noName, dup, unknown })
        {
            Assert.Contains(errors, e => e.Path == file);
            Assert.Contains(h.Log.Warnings, w => w.Contains(file, StringComparison.Ordinal));
        }
        Assert.Contains(errors, e => e.Path == unknown && e.Message.Contains("colour", StringComparison.Ordinal) && e.Line is not null);
        Assert.Equal(2, h.Agent.Pods.Count);
    }
}
