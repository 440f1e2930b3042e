using KubeletPS.Core.Pods.Gc;
using KubeletPS.Core.Runtime;
using KubeletPS.TestCluster.Runtime;

namespace KubeletPS.Core.Tests.Pods.Gc;

/// <summary>
/// A containerd of the GC tests' own: image GC removes every image no container uses, which would
/// take the pod sync collection's extra test images from the tests after these.
/// </summary>
[CollectionDefinition(Name)]
public sealed class GarbageCollectionCollection : ICollectionFixture<PodSyncFixture>
{
    public const string Name = "Garbage collection on a private containerd";
}

/// <summary>Image GC and node-wide container GC by the agent against a real containerd.</summary>
[Collection(GarbageCollectionCollection.Name)]
public sealed class GarbageCollectionContainerdTests(PodSyncFixture fixture)
{
    private static readonly string[] ExtraImages = ["kubeletps.local/gc-a:1", "kubeletps.local/gc-b:1", "kubeletps.local/gc-c:1"];

    private static string Pod(string name, string script, string restartPolicy) => $$"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {{name}}
        spec:
          restartPolicy: {{restartPolicy}}
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: {{OciImageBuilder.BusyboxImage}}
            imagePullPolicy: IfNotPresent
            command: ["sh", "-c", {{System.Text.Json.JsonSerializer.Serialize(script)}}]
        """;

    private async Task<HashSet<string>> TagsAsync() =>
        (await fixture.Client.ListImagesAsync()).SelectMany(i => i.RepoTags).ToHashSet(StringComparer.Ordinal);

    [Fact]
    public async Task Over_the_high_threshold_unused_images_are_removed_and_the_image_in_use_and_the_sandbox_image_are_kept()
    {
        // Three more images: busybox's layer with configs of their own, so each has its own image id.
        var archive = await OciImageBuilder.GetOrBuildAsync(images: ExtraImages.Select(n => new OciImageDefinition(n, ["sh"]) { Env = ["PATH=/bin", "GC_IMAGE=" + n] }).ToList());
        await fixture.Containerd.ImportImagesAsync(archive);
        await PodSyncFixture.WaitForAsync(TagsAsync, t => ExtraImages.All(t.Contains), "the extra images in CRI");

        // The real disk is more than 1% used: at high 1 / low 0 a pass frees all it may, and cannot free enough.
        await using var h = fixture.NewAgent(options: o => o with
        {
            ImageGc = new ImageGcPolicy { HighThresholdPercent = 1, LowThresholdPercent = 0, MinAge = TimeSpan.Zero },
            ImageGcPeriod = TimeSpan.FromHours(1),
        });
        h.Write("user.yaml", Pod("user", "sleep 3600", "Always"));
        await h.WaitForRunningAsync("user", TimeSpan.FromSeconds(90));
        // The agent asked containerd for its sandbox image when the image GC loop started.
        await PodSyncFixture.WaitForAsync(() => h.Agent.ImageGc.SandboxImage, i => i == OciImageBuilder.PauseImage, "the sandbox image from the runtime");

        var result = await h.Agent.ImageGc.GarbageCollectAsync(GcMode.Remove, default);

        var tags = await TagsAsync();
        Assert.DoesNotContain(tags, ExtraImages.Contains);
        Assert.Contains(OciImageBuilder.BusyboxImage, tags);
        Assert.Contains(OciImageBuilder.PauseImage, tags);
        Assert.Superset(ExtraImages.ToHashSet(), result.Removals.SelectMany(r => new[] { r.Name }).ToHashSet());
        Assert.All(result.Removals, r => Assert.True(r.Removed, r.Error));
        Assert.DoesNotContain(result.Removals, r => r.Name is OciImageBuilder.BusyboxImage or OciImageBuilder.PauseImage);
        Assert.StartsWith("Failed to garbage collect required amount of images. Attempted to free ", result.Error, StringComparison.Ordinal);
        Assert.Single(h.Events.WithReason(ImageGcManager.FreeDiskSpaceFailed));
    }

    [Fact]
    public async Task A_pod_restarted_several_times_keeps_one_dead_instance_per_container()
    {
        await using var h = fixture.NewAgent(backOffBase: TimeSpan.FromMilliseconds(200), backOffMax: TimeSpan.FromMilliseconds(400),
            options: o => o with { ContainerGcPeriod = TimeSpan.FromMilliseconds(500) });
        h.Write("crash.yaml", Pod("crash", "exit 3", "Always"));
        var pod = await h.WaitForPodAsync("crash", p => p.Status?.ContainerStatuses?.FirstOrDefault()?.RestartCount >= 4, "restarted 4 times", TimeSpan.FromSeconds(120));

        var dead = await PodSyncFixture.WaitForAsync(async () => (await h.ContainersAsync(pod.Metadata.Uid)).Where(c => c.State == ContainerState.Exited).ToList(),
            d => d.Count == 1, "one dead instance left", TimeSpan.FromSeconds(30));
        Assert.True((await h.ContainersAsync(pod.Metadata.Uid)).Max(c => c.Attempt) >= 4);
        Assert.Contains(h.Log.Lines, l => l.Message.StartsWith("container GC: removing container ", StringComparison.Ordinal));
        Assert.Single(dead);
    }

    [Fact]
    public async Task Leftovers_of_a_pod_deleted_while_the_agent_was_stopped_are_removed_once_the_sources_are_ready()
    {
        var first = fixture.NewAgent(stopPodsOnExit: false);
        first.Write("left.yaml", Pod("left", "sleep 3600", "Always"));
        var pod = await first.WaitForRunningAsync("left", TimeSpan.FromSeconds(90));
        var uid = pod.Metadata.Uid;
        await first.StopAsync();
        await first.DisposeAsync();
        first.Remove("left.yaml");
        var logDir = PodSandboxSpec.DefaultLogDirectory(fixture.Containerd.PodLogsDir, "default", pod.Metadata.Name, uid);
        Assert.True(Directory.Exists(logDir));
        Assert.True(Directory.Exists(Path.Combine(first.RootDirectory, "pods", uid)));
        // A pod directory and a log directory of a pod the runtime no longer has at all.
        var strayPodDir = Directory.CreateDirectory(Path.Combine(first.RootDirectory, "pods", "stray-uid", "volumes")).Parent!.FullName;
        var strayLogDir = Directory.CreateDirectory(Path.Combine(fixture.Containerd.PodLogsDir, "default_stray_stray-uid")).FullName;

        await using var second = fixture.NewAgent(manifests: first.ManifestDirectory, root: first.RootDirectory,
            options: o => o with { ContainerGcPeriod = TimeSpan.FromMilliseconds(500) });

        await PodSyncFixture.WaitForAsync(async () => (await second.SandboxesAsync(uid)).Count, n => n == 0, "the left pod's sandboxes gone", TimeSpan.FromSeconds(60));
        await PodSyncFixture.WaitForAsync(() => new[] { logDir, strayLogDir, strayPodDir, Path.Combine(first.RootDirectory, "pods", uid) }.Where(Directory.Exists).ToList(),
            l => l.Count == 0, "the left pod's and the stray directories gone", TimeSpan.FromSeconds(30));
        Assert.Empty(await second.ContainersAsync(uid));
    }
}
