using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Tests.Pods;

/// <summary>The pod sync agent against a real (private) containerd: static pods in, running containers and kubelet's statuses out.</summary>
[Collection(PodSyncCollection.Name)]
public sealed partial class PodSyncTests(PodSyncFixture fixture)
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
