using KubeletPS.Core.Pods.Gc;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Tests.Support.Fakes;
using Microsoft.Extensions.Time.Testing;

namespace KubeletPS.Core.Tests.Pods.Gc;

/// <summary>Kubelet's image GC (image_gc_manager_test.go's cases) over the fake image service with a fake clock and a measured file system.</summary>
public sealed class ImageGcManagerTests
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly FakeRuntimeService _runtime;
    private readonly FakeImageService _images = new();
    private readonly RecordingEvents _events = new();
    private ImageFsCapacity _fs = new(1000, 100);

    public ImageGcManagerTests() => _runtime = new FakeRuntimeService(_clock);

    private ImageGcManager Manager(ImageGcPolicy? policy = null, string? sandboxImage = null) =>
        new(_runtime, _images, policy ?? new ImageGcPolicy { MinAge = TimeSpan.Zero }, NullKubeletLog.Instance, _clock)
        {
            Events = _events,
            NodeName = "node-a",
            SandboxImage = sandboxImage,
            MeasureFilesystem = _ => _fs,
        };

    private void RunContainer(string image, ContainerState state = ContainerState.Running)
    {
        var sandbox = _runtime.AddSandbox(new PodSandboxSpec { Name = "p", Namespace = "default", Uid = "uid-" + image });
        _runtime.AddContainer(sandbox.Id, new ContainerSpec
        {
            Name = "main",
            Image = image,
            Labels = new Dictionary<string, string> { [KubeletLabels.PodUid] = "uid-" + image, [KubeletLabels.ContainerName] = "main" },
        }, state);
    }

    private List<string> Present() => _images.ListImagesAsync().Result.Select(i => i.RepoTags[0]).Order(StringComparer.Ordinal).ToList();

    [Fact]
    public async Task Least_recently_used_go_first_never_used_before_used_ties_broken_by_first_detection()
    {
        _images.AddImage("used-long-ago", 100);
        RunContainer("used-long-ago", ContainerState.Exited);
        var gc = Manager();
        await gc.DetectImagesAsync(default);               // used-long-ago: lastUsed t0
        await _runtime.RemoveContainerAsync(_runtime.Containers.Single().Id);
        _clock.Advance(TimeSpan.FromMinutes(1));
        _images.AddImage("never-used-old", 100);
        await gc.DetectImagesAsync(default);
        _clock.Advance(TimeSpan.FromMinutes(1));
        _images.AddImage("never-used-new", 100);
        _images.AddImage("used-recently", 100);
        RunContainer("used-recently", ContainerState.Exited);
        await gc.DetectImagesAsync(default);                // used-recently: lastUsed t2
        await _runtime.RemoveContainerAsync(_runtime.Containers.Single().Id);
        _clock.Advance(TimeSpan.FromMinutes(1));

        // 90% used, low 80%: 1000*20/100 - 100 = 100 bytes to free per pass; each image is 100.
        var order = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var result = await gc.GarbageCollectAsync(GcMode.Remove, default);
            order.Add(Assert.Single(result.Removals).Name);
            Assert.Equal(100, result.AmountToFree);
        }
        Assert.Equal(["never-used-old", "never-used-new", "used-long-ago", "used-recently"], order);
    }

    [Fact]
    public async Task It_frees_down_to_the_low_threshold_and_stops_there()
    {
        for (var i = 0; i < 5; i++) _images.AddImage($"img-{i}", 60);
        _fs = new ImageFsCapacity(1000, 100); // 90% >= 85%: free 1000*(100-80)/100 - 100 = 100 bytes
        var result = await Manager().GarbageCollectAsync(GcMode.Remove, default);

        Assert.Equal(90, result.UsagePercent);
        Assert.Equal(100, result.AmountToFree);
        Assert.Equal(2, result.Removals.Count);
        Assert.Equal(120, result.Freed);
        Assert.Null(result.Error);
        Assert.Equal(3, Present().Count);
    }

    [Fact]
    public async Task Below_the_high_threshold_nothing_is_removed_and_at_a_high_threshold_of_100_never()
    {
        _images.AddImage("unused", 100);
        _fs = new ImageFsCapacity(1000, 160); // 84% < 85%
        Assert.Empty((await Manager().GarbageCollectAsync(GcMode.Remove, default)).Removals);

        _fs = new ImageFsCapacity(1000, 0); // 100% used
        var off = new ImageGcPolicy { HighThresholdPercent = 100, LowThresholdPercent = 0, MinAge = TimeSpan.Zero };
        Assert.False(off.Enabled);
        Assert.Empty((await Manager(off).GarbageCollectAsync(GcMode.Remove, default)).Removals);
        Assert.Equal(["unused"], Present());
    }

    [Fact]
    public async Task Images_in_use_by_any_container_running_or_not_pinned_images_and_the_sandbox_image_are_kept()
    {
        _images.AddImage("running", 100);
        _images.AddImage("exited", 100);
        _images.AddImage("pinned", 100, pinned: true);
        _images.AddImage("registry.k8s.io/pause:3.9", 100);
        _images.AddImage("unused", 100);
        RunContainer("running");
        RunContainer("exited", ContainerState.Exited);
        _fs = new ImageFsCapacity(1000, 0);

        var result = await Manager(sandboxImage: "registry.k8s.io/pause:3.9").GarbageCollectAsync(GcMode.Remove, default);

        Assert.Equal("unused", Assert.Single(result.Removals).Name);
        Assert.Equal(["exited", "pinned", "registry.k8s.io/pause:3.9", "running"], Present());
    }

    [Fact]
    public async Task An_image_detected_less_than_imageMinimumGCAge_ago_is_kept_until_it_is_old_enough()
    {
        _images.AddImage("fresh", 100);
        _fs = new ImageFsCapacity(1000, 0);
        var gc = Manager(new ImageGcPolicy { MinAge = TimeSpan.FromMinutes(2) });
        await gc.DetectImagesAsync(default);
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Empty((await gc.GarbageCollectAsync(GcMode.Remove, default)).Removals);
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal("fresh", Assert.Single((await gc.GarbageCollectAsync(GcMode.Remove, default)).Removals).Name);
    }

    [Fact]
    public async Task An_image_unused_longer_than_imageMaximumGCAge_is_removed_below_the_threshold_but_only_once_that_age_passed_since_start()
    {
        _images.AddImage("stale", 100);
        _images.AddImage("busy", 100);
        RunContainer("busy");
        _fs = new ImageFsCapacity(1000, 900); // 10%: no space pressure
        var gc = Manager(new ImageGcPolicy { MinAge = TimeSpan.FromMinutes(2), MaxAge = TimeSpan.FromHours(1) });
        await gc.DetectImagesAsync(default);
        _clock.Advance(TimeSpan.FromMinutes(59));
        Assert.Empty((await gc.GarbageCollectAsync(GcMode.Remove, default)).Removals);
        _clock.Advance(TimeSpan.FromMinutes(2));

        var removal = Assert.Single((await gc.GarbageCollectAsync(GcMode.Remove, default)).Removals);
        Assert.Equal("stale", removal.Name);
        Assert.Contains("imageMaximumGCAge 1h0m0s", removal.Reason, StringComparison.Ordinal);
        Assert.Equal(["busy"], Present());
    }

    [Fact]
    public async Task When_too_little_is_eligible_the_node_gets_kubelets_FreeDiskSpaceFailed_warning_with_its_text()
    {
        _images.AddImage("small", 10);
        _images.AddImage("busy", 500);
        RunContainer("busy");
        _fs = new ImageFsCapacity(1000, 100);

        var result = await Manager().GarbageCollectAsync(GcMode.Remove, default);

        const string text = "Failed to garbage collect required amount of images. Attempted to free 100 bytes, but only found 10 bytes eligible to free.";
        Assert.Equal(text, result.Error);
        var e = Assert.Single(_events.WithReason(ImageGcManager.FreeDiskSpaceFailed));
        Assert.Equal(("Node", "node-a", "Warning", text), (e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Type, e.Message));
    }

    [Fact]
    public async Task A_dry_run_lists_what_would_go_and_removes_nothing_nor_records_an_event()
    {
        _images.AddImage("a", 10);
        _images.AddImage("b", 10);
        _fs = new ImageFsCapacity(1000, 0);

        var result = await Manager().GarbageCollectAsync(GcMode.DryRun, default);

        Assert.Equal(2, result.Removals.Count);
        Assert.All(result.Removals, r => Assert.False(r.Removed));
        Assert.Equal(["a", "b"], Present());
        Assert.Empty(_events.Recorded);
        Assert.Equal(0, _images.Calls.Count("RemoveImage"));
    }

    [Fact]
    public async Task DeleteUnusedImages_for_the_eviction_manager_removes_every_unused_unpinned_image_and_returns_the_bytes()
    {
        _images.AddImage("a", 10);
        _images.AddImage("b", 20);
        _images.AddImage("pause", 5, pinned: true);
        _images.AddImage("busy", 40);
        RunContainer("busy");
        _fs = new ImageFsCapacity(1000, 999);

        Assert.Equal(30, await Manager().DeleteUnusedImagesAsync(default));
        Assert.Equal(["busy", "pause"], Present());
    }

    [Theory]
    [InlineData(101, 80, "imageGCHighThresholdPercent", "imageGCHighThresholdPercent (--image-gc-high-threshold) 101 must be between 0 and 100, inclusive")]
    [InlineData(85, -1, "imageGCLowThresholdPercent", "imageGCLowThresholdPercent (--image-gc-low-threshold) -1 must be between 0 and 100, inclusive")]
    [InlineData(80, 80, "imageGCLowThresholdPercent", "imageGCLowThresholdPercent (--image-gc-low-threshold) 80 must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) 80")]
    public void Invalid_thresholds_are_refused_as_kubelet_refuses_them_naming_the_field(int high, int low, string field, string message)
    {
        var e = Assert.Throws<KubeletException>(() => new ImageGcPolicy { HighThresholdPercent = high, LowThresholdPercent = low }.Validate());
        Assert.Equal(field, e.Target);
        Assert.Equal(KubeletErrorKind.InvalidData, e.Category);
        Assert.Equal("invalid configuration: " + message, e.Message);
    }

    [Fact]
    public void The_configuration_fields_reach_the_policy_and_a_maximum_age_not_above_the_minimum_is_refused()
    {
        var policy = ImageGcPolicy.FromConfiguration(new Core.Configuration.KubeletConfiguration
        {
            ImageGCHighThresholdPercent = 70, ImageGCLowThresholdPercent = 50, ImageMinimumGCAge = TimeSpan.FromMinutes(3), ImageMaximumGCAge = TimeSpan.FromDays(1),
        });
        Assert.Equal(new ImageGcPolicy { HighThresholdPercent = 70, LowThresholdPercent = 50, MinAge = TimeSpan.FromMinutes(3), MaxAge = TimeSpan.FromDays(1) }, policy);
        var e = Assert.Throws<KubeletException>(() => new ImageGcPolicy { MinAge = TimeSpan.FromMinutes(5), MaxAge = TimeSpan.FromMinutes(5) }.Validate());
        Assert.Equal("imageMaximumGCAge", e.Target);
    }
}
