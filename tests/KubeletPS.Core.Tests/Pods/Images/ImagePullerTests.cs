using System.Collections.Concurrent;
using KubeletPS.Core.Pods.Images;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Tests.Support.Fakes;
using Microsoft.Extensions.Time.Testing;

namespace KubeletPS.Core.Tests.Pods.Images;

/// <summary>serializeImagePulls, maxParallelImagePulls and registryPullQPS/registryBurst over an image service whose pulls wait for the test to release them; a fake clock for the bucket.</summary>
public sealed class ImagePullerTests
{
    /// <summary>Each pull waits until the test releases it; counts the pulls in flight.</summary>
    private sealed class GatedImageService : IImageService
    {
        private readonly FakeImageService _inner = new();
        private readonly object _lock = new();
        private int _inFlight;

        public ConcurrentQueue<TaskCompletionSource> Waiting { get; } = new();
        public SemaphoreSlim Entered { get; } = new(0);
        public int MaxInFlight { get; private set; }

        public async Task<string> PullImageAsync(string image, RegistryAuth? auth, PodSandboxSpec? sandboxSpec, CancellationToken cancellationToken)
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock) MaxInFlight = Math.Max(MaxInFlight, ++_inFlight);
            Waiting.Enqueue(gate);
            Entered.Release();
            await gate.Task.WaitAsync(cancellationToken);
            lock (_lock) _inFlight--;
            return await _inner.PullImageAsync(image, auth, sandboxSpec, cancellationToken);
        }

        /// <summary>Waits for the next pull to enter, then lets it finish.</summary>
        public async Task ReleaseNextAsync()
        {
            await Entered.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(Waiting.TryDequeue(out var gate));
            gate.SetResult();
        }

        public Task<string> PullImageAsync(string image, PodSandboxSpec? sandboxSpec = null, CancellationToken cancellationToken = default) => PullImageAsync(image, null, sandboxSpec, cancellationToken);
        public Task<IReadOnlyList<ImageInfo>> ListImagesAsync(string? image = null, CancellationToken cancellationToken = default) => _inner.ListImagesAsync(image, cancellationToken);
        public Task<ImageInfo?> ImageStatusAsync(string image, CancellationToken cancellationToken = default) => _inner.ImageStatusAsync(image, cancellationToken);
        public Task RemoveImageAsync(string image, CancellationToken cancellationToken = default) => _inner.RemoveImageAsync(image, cancellationToken);
        public Task<IReadOnlyList<ImageFilesystemInfo>> ImageFsInfoAsync(CancellationToken cancellationToken = default) => _inner.ImageFsInfoAsync(cancellationToken);
    }

    private static async Task<int> MaxInFlightAsync(ImagePuller puller, GatedImageService images, int pulls)
    {
        var tasks = Enumerable.Range(0, pulls).Select(i => puller.PullAsync($"registry.local/app{i}", [], null, CancellationToken.None)).ToList();
        for (var i = 0; i < pulls; i++) await images.ReleaseNextAsync();
        await Task.WhenAll(tasks);
        return images.MaxInFlight;
    }

    [Fact]
    public async Task Serialized_pulls_run_one_at_a_time_node_wide()
    {
        var images = new GatedImageService();
        Assert.Equal(1, await MaxInFlightAsync(new ImagePuller(images, serialize: true), images, 3));
    }

    [Fact]
    public async Task Parallel_pulls_are_bounded_by_maxParallelImagePulls()
    {
        var images = new GatedImageService();
        var puller = new ImagePuller(images, serialize: false, maxParallelImagePulls: 2);
        var tasks = Enumerable.Range(0, 3).Select(i => puller.PullAsync($"registry.local/app{i}", [], null, CancellationToken.None)).ToList();
        // Two enter at once; the third only after one of them finishes.
        await images.Entered.WaitAsync(TimeSpan.FromSeconds(30));
        await images.Entered.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, images.Waiting.Count);
        images.Entered.Release(2);
        for (var i = 0; i < 3; i++) await images.ReleaseNextAsync();
        await Task.WhenAll(tasks);
        Assert.Equal(2, images.MaxInFlight);
    }

    [Fact]
    public async Task Parallel_pulls_without_a_maximum_all_run_at_once()
    {
        var images = new GatedImageService();
        Assert.Equal(3, await MaxInFlightAsync(new ImagePuller(images, serialize: false), images, 3));
    }

    [Fact]
    public async Task Pulls_beyond_the_burst_fail_with_pull_QPS_exceeded_until_the_bucket_refills()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var images = new FakeImageService();
        var puller = new ImagePuller(images, registryPullQps: 1, registryBurst: 2, time: clock);
        await puller.PullAsync("registry.local/a", [], null, CancellationToken.None);
        await puller.PullAsync("registry.local/b", [], null, CancellationToken.None);
        var e = await Assert.ThrowsAsync<KubeletRuntimeException>(() => puller.PullAsync("registry.local/c", [], null, CancellationToken.None));
        Assert.Equal("pull QPS exceeded", e.Message);
        Assert.Equal(["registry.local/a", "registry.local/b"], images.Pulled);

        clock.Advance(TimeSpan.FromSeconds(1));
        await puller.PullAsync("registry.local/c", [], null, CancellationToken.None);
        await Assert.ThrowsAsync<KubeletRuntimeException>(() => puller.PullAsync("registry.local/d", [], null, CancellationToken.None));
    }

    [Fact]
    public async Task Qps_zero_is_no_limit()
    {
        var images = new FakeImageService();
        var puller = new ImagePuller(images, registryPullQps: 0, registryBurst: 1, time: new FakeTimeProvider());
        for (var i = 0; i < 20; i++) await puller.PullAsync($"registry.local/app{i}", [], null, CancellationToken.None);
        Assert.Equal(20, images.Pulled.Count);
    }

    [Fact]
    public async Task Each_credential_is_tried_in_order_and_every_refusal_is_reported()
    {
        var images = new FakeImageService { PullFailure = (_, auth) => auth?.Username == "good" ? null : FakeCriCalls.Error("PullImage", RuntimeErrorKind.RuntimeError, $"401 Unauthorized for {auth?.Username}") };
        var puller = new ImagePuller(images);
        var pulled = await puller.PullAsync("registry.local/app", [new RegistryAuth("old", "x"), new RegistryAuth("good", "y")], null, CancellationToken.None);
        Assert.Equal(["old", "good"], images.PullAuths.Select(a => a?.Username));
        Assert.Equal(1024UL, pulled.Size);

        var e = await Assert.ThrowsAsync<KubeletRuntimeException>(() => puller.PullAsync("registry.local/app", [new RegistryAuth("a", "x"), new RegistryAuth("b", "y")], null, CancellationToken.None));
        Assert.StartsWith("[", e.Message, StringComparison.Ordinal);
        Assert.Contains("401 Unauthorized for a", e.Message, StringComparison.Ordinal);
        Assert.Contains("401 Unauthorized for b", e.Message, StringComparison.Ordinal);
    }
}
