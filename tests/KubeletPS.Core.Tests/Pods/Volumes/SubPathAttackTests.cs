using k8s.Models;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Tests.Pods.Volumes;

/// <summary>
/// CVE-2017-1002101 as an attacker plays it against static pods on the private containerd: a
/// container plants a symlink in a volume, another container mounts it with subPath and reads a
/// host file that is in no volume. Each attack container copies what it reads into a second
/// emptyDir ("out"), which the test reads on the host: the marker must never arrive there.
/// </summary>
[Collection(PodSyncCollection.Name)]
public sealed class SubPathAttackTests(PodSyncFixture fixture) : IDisposable
{
    private const string Image = "kubeletps.local/busybox:latest";
    private readonly string _hostDir = CreateHostDir(fixture);
    private string Marker => Path.Combine(_hostDir, "marker");
    private const string MarkerText = "host-secret-7f3a";

    private static string CreateHostDir(PodSyncFixture fixture)
    {
        var dir = Path.Combine(fixture.Containerd.BaseDir, "host-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "marker"), MarkerText);
        return dir;
    }

    public void Dispose() => Directory.Delete(_hostDir, recursive: true);

    private static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s);

    /// <summary>A pod with the emptyDirs "w" (the attacked volume) and "out" (where stolen data goes).</summary>
    private static string AttackPod(string name, string initScript, string appSubPath, string appScript, string extraContainers = "") => $$"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {{name}}
        spec:
          restartPolicy: Always
          terminationGracePeriodSeconds: 1
          volumes:
          - name: w
            emptyDir: {}
          - name: out
            emptyDir: {}
          initContainers:
          - name: plant
            image: {{Image}}
            imagePullPolicy: IfNotPresent
            command: ["sh", "-c", {{Quote(initScript)}}]
            volumeMounts: [{name: w, mountPath: /w}]
          containers:
          - name: app
            image: {{Image}}
            imagePullPolicy: IfNotPresent
            command: ["sh", "-c", {{Quote(appScript)}}]
            volumeMounts: [{name: w, mountPath: /host, subPath: {{Quote(appSubPath)}}}, {name: out, mountPath: /out}]
        {{extraContainers}}
        """;

    /// <summary>What the attack container wrote to the pod's "out" emptyDir on the host.</summary>
    private static string Stolen(AgentHarness h, V1Pod pod)
    {
        var file = Path.Combine(h.RootDirectory, "pods", pod.Metadata.Uid, "volumes", "kubernetes.io~empty-dir", "out", "leak");
        return File.Exists(file) ? File.ReadAllText(file) : "";
    }

    /// <summary>
    /// Waits until the app container either leaked the marker (the attack worked) or was refused;
    /// then asserts it was refused with kubelet's message and never ran.
    /// </summary>
    private async Task AssertRefusedAsync(AgentHarness h, string name, string container = "app", string volumeMount = "w")
    {
        var pod = await h.WaitForPodAsync(name, p => p.Metadata.Uid is not null, "known");
        pod = await PodSyncFixture.WaitForAsync(() => h.Pod(name)!, p => Stolen(h, p).Length > 0
            || p.Status?.ContainerStatuses?.Any(c => c.Name == container && c.State?.Waiting?.Reason == "CreateContainerConfigError") == true,
            $"pod {name}: container {container} refused or the marker leaked", TimeSpan.FromSeconds(60));
        Assert.DoesNotContain(MarkerText, Stolen(h, pod));
        var waiting = pod.Status.ContainerStatuses.Single(c => c.Name == container).State.Waiting;
        Assert.Equal("CreateContainerConfigError", waiting.Reason);
        Assert.Equal($"failed to prepare subPath for volumeMount \"{volumeMount}\" of container \"{container}\"", waiting.Message);
        Assert.Contains(h.Events.WithReason(EventReasons.Failed), e => e.Message == $"Error: {waiting.Message}");
        // What was found is in the node's log only, never in the pod's status.
        Assert.Contains(h.Log.Warnings, l => l.Contains($"CreateContainerConfigError: {waiting.Message}: subPath ", StringComparison.Ordinal) && l.Contains("of volume w: ", StringComparison.Ordinal));
        Assert.Equal(MarkerText, File.ReadAllText(Marker));
    }

    [Fact]
    public async Task An_absolute_symlink_planted_by_an_init_container_is_refused_as_a_subPath()
    {
        await using var h = fixture.NewAgent();
        h.Write("abs.yaml", AttackPod("abs", "ln -s / /w/escape", "escape", $"cat /host{Marker} > /out/leak; sleep 3600"));
        await AssertRefusedAsync(h, "abs");
        Assert.DoesNotContain(await h.ContainersAsync(h.Pod("abs")!.Metadata.Uid), c => c.Labels[KubeletLabels.ContainerName] == "app");
    }

    [Fact]
    public async Task A_relative_symlink_chain_out_of_the_volume_is_refused_as_a_subPath()
    {
        await using var h = fixture.NewAgent();
        h.Write("rel.yaml", AttackPod("rel", "ln -s ../../../../../../../../../../../../../.. /w/up", "up", $"cat /host{Marker} > /out/leak; sleep 3600"));
        await AssertRefusedAsync(h, "rel");
    }

    [Fact]
    public async Task A_symlink_in_a_middle_component_of_the_subPath_is_refused()
    {
        await using var h = fixture.NewAgent();
        var relativeHostDir = _hostDir.TrimStart('/');
        h.Write("mid.yaml", AttackPod("mid", "mkdir -p /w/a && ln -s / /w/a/link", $"a/link/{relativeHostDir}", "cat /host/marker > /out/leak; sleep 3600"));
        await AssertRefusedAsync(h, "mid");
    }

    [Fact]
    public async Task A_symlink_planted_by_a_sibling_while_the_pod_runs_is_refused_when_the_other_container_restarts()
    {
        await using var h = fixture.NewAgent();
        // "app" first gets the directory "late" (created for it as kubelet does), waits for its sibling
        // to swap it for a symlink to /, and exits; its restart must be checked afresh.
        var sibling = $$"""
              - name: planter
                image: {{Image}}
                imagePullPolicy: IfNotPresent
                command: ["sh", "-c", {{Quote("while [ ! -d /w/late ]; do sleep 0.1; done; rmdir /w/late && ln -s / /w/late && touch /out/planted; sleep 3600")}}]
                volumeMounts: [{name: w, mountPath: /w}, {name: out, mountPath: /out}]
            """;
        h.Write("late.yaml", AttackPod("late", "true", "late",
            $"while [ ! -e /out/planted ]; do sleep 0.1; done; cat /host{Marker} > /out/leak 2>/dev/null; exit 1", sibling));
        await AssertRefusedAsync(h, "late");
        var pod = h.Pod("late")!;
        Assert.True(File.Exists(Path.Combine(h.RootDirectory, "pods", pod.Metadata.Uid, "volumes", "kubernetes.io~empty-dir", "out", "planted")), "the sibling planted its link");
        // The first instance of app ran (with the directory) and exited; only its restart was refused.
        var apps = (await h.ContainersAsync(pod.Metadata.Uid)).Where(c => c.Labels[KubeletLabels.ContainerName] == "app").ToList();
        Assert.Single(apps);
        Assert.Equal(ContainerState.Exited, (await h.Client.ContainerStatusAsync(apps[0].Id)).State);
    }

    [Fact]
    public async Task A_normal_subPath_file_directory_and_subPathExpr_work_and_removing_the_pod_leaves_no_mount_and_no_host_file_deleted()
    {
        await using var h = fixture.NewAgent();
        var hostVolume = Directory.CreateDirectory(Path.Combine(_hostDir, "hostvol")).FullName;
        File.WriteAllText(Path.Combine(hostVolume, "keep"), "kept");
        h.Write("fine.yaml", $$"""
            apiVersion: v1
            kind: Pod
            metadata:
              name: fine
            spec:
              restartPolicy: Always
              terminationGracePeriodSeconds: 1
              volumes:
              - name: w
                emptyDir: {}
              - name: hv
                hostPath:
                  path: {{Quote(hostVolume)}}
              initContainers:
              - name: prepare
                image: {{Image}}
                imagePullPolicy: IfNotPresent
                command: ["sh", "-c", "mkdir -p /w/conf /w/data && echo configured > /w/conf/app.conf && echo datum > /w/data/d && mkdir /w/inside && ln -s ../conf /w/inside/conf"]
                volumeMounts: [{name: w, mountPath: /w}]
              containers:
              - name: app
                image: {{Image}}
                imagePullPolicy: IfNotPresent
                command: ["sh", "-c", "echo mine > /mine/hello; echo new > /fresh/n; sleep 3600"]
                env:
                - name: POD_NAME
                  valueFrom:
                    fieldRef:
                      fieldPath: metadata.name
                volumeMounts:
                - {name: w, mountPath: /etc/app.conf, subPath: conf/app.conf}
                - {name: w, mountPath: /data, subPath: data}
                - {name: w, mountPath: /mine, subPathExpr: "pods/$(POD_NAME)"}
                - {name: w, mountPath: /linked, subPath: inside/conf}
                - {name: hv, mountPath: /fresh, subPath: made/here}
            """);
        var pod = await h.WaitForRunningAsync("fine", TimeSpan.FromSeconds(60));
        var id = pod.Status.ContainerStatuses.Single().ContainerID["containerd://".Length..];
        async Task<string> Run(string script) => (await h.Client.ExecSyncAsync(id, ["sh", "-c", script], TimeSpan.FromSeconds(5))).Stdout.Trim();
        Assert.Equal("configured", await Run("cat /etc/app.conf"));
        Assert.Equal("datum", await Run("cat /data/d"));
        Assert.Equal("configured", await Run("cat /linked/app.conf"));
        var emptyDir = Path.Combine(h.RootDirectory, "pods", pod.Metadata.Uid, "volumes", "kubernetes.io~empty-dir", "w");
        await PodSyncFixture.WaitForAsync(() => File.Exists(Path.Combine(emptyDir, "pods", "fine-node1", "hello")), ok => ok, "the subPathExpr directory is written");
        Assert.Equal("new", File.ReadAllText(Path.Combine(hostVolume, "made", "here", "n")).Trim());
        var podDir = Path.Combine(h.RootDirectory, "pods", pod.Metadata.Uid);
        Assert.NotEmpty(HostMounts.MountPointsUnder(Path.Combine(podDir, "volume-subpaths")));

        h.Remove("fine.yaml");
        await PodSyncFixture.WaitForAsync(() => Directory.Exists(podDir), exists => !exists, "the pod directory is removed", TimeSpan.FromSeconds(60));
        Assert.DoesNotContain(File.ReadLines("/proc/self/mountinfo"), l => l.Contains(h.RootDirectory, StringComparison.Ordinal));
        Assert.Equal("kept", File.ReadAllText(Path.Combine(hostVolume, "keep")));
        Assert.Equal("new", File.ReadAllText(Path.Combine(hostVolume, "made", "here", "n")).Trim());
        Assert.Equal(MarkerText, File.ReadAllText(Marker));
    }
}
