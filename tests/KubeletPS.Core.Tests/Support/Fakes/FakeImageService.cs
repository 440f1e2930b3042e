using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Tests.Support.Fakes;

/// <summary>An in-memory CRI image service (cri-api's fake_image_service.go): images by reference, pulls recorded.</summary>
public sealed class FakeImageService(FakeCriCalls? calls = null) : IImageService
{
    private readonly object _state = new();
    private readonly Dictionary<string, ImageInfo> _images = new(StringComparer.Ordinal);
    private readonly List<string> _pulled = [];

    public FakeCriCalls Calls { get; } = calls ?? new FakeCriCalls();

    /// <summary>The images pulled, in order.</summary>
    public IReadOnlyList<string> Pulled
    {
        get { lock (_state) return [.. _pulled]; }
    }

    /// <summary>Makes an image present, as if pulled before; <paramref name="pinned"/> as CRI's Image.pinned.</summary>
    public ImageInfo AddImage(string image, ulong size = 1024, bool pinned = false)
    {
        lock (_state)
        {
            var info = new ImageInfo("sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(image))), [image], [], size, null, "", pinned);
            _images[image] = info;
            return info;
        }
    }

    public Task<IReadOnlyList<ImageInfo>> ListImagesAsync(string? image = null, CancellationToken cancellationToken = default)
        => Calls.CallAsync<IReadOnlyList<ImageInfo>>("ListImages", _state,
            () => _images.Where(i => string.IsNullOrEmpty(image) || i.Key == image).Select(i => i.Value).Distinct().ToList(), cancellationToken);

    public Task<ImageInfo?> ImageStatusAsync(string image, CancellationToken cancellationToken = default)
        => Calls.CallAsync("ImageStatus", _state, () => _images.GetValueOrDefault(image) ?? _images.Values.FirstOrDefault(i => i.Id == image), cancellationToken);

    public Task<string> PullImageAsync(string image, PodSandboxSpec? sandboxSpec = null, CancellationToken cancellationToken = default)
        => PullImageAsync(image, null, sandboxSpec, cancellationToken);

    /// <summary>The credentials each pull was given, in order (null: anonymous).</summary>
    public IReadOnlyList<RegistryAuth?> PullAuths
    {
        get { lock (_state) return [.. _pullAuths]; }
    }

    private readonly List<RegistryAuth?> _pullAuths = [];

    /// <summary>
    /// When set, a pull runs it first (with the credentials given) and fails with the runtime error it returns,
    /// as a registry refusing the credentials would.
    /// </summary>
    public Func<string, RegistryAuth?, KubeletRuntimeException?>? PullFailure { get; set; }

    public Task<string> PullImageAsync(string image, RegistryAuth? auth, PodSandboxSpec? sandboxSpec, CancellationToken cancellationToken)
        => Calls.CallAsync("PullImage", _state, () =>
        {
            _pulled.Add(image);
            _pullAuths.Add(auth);
            if (PullFailure?.Invoke(image, auth) is { } failure) throw failure;
            return (_images.GetValueOrDefault(image) ?? AddImage(image)).Id;
        }, cancellationToken);

    public Task RemoveImageAsync(string image, CancellationToken cancellationToken = default)
        => Calls.CallAsync("RemoveImage", _state, () =>
        {
            // CRI RemoveImage takes a reference or an image id (the image GC removes by id).
            foreach (var key in _images.Where(i => i.Key == image || i.Value.Id == image).Select(i => i.Key).ToList()) _images.Remove(key);
            return true;
        }, cancellationToken);

    public Task<IReadOnlyList<ImageFilesystemInfo>> ImageFsInfoAsync(CancellationToken cancellationToken = default)
        => Calls.CallAsync<IReadOnlyList<ImageFilesystemInfo>>("ImageFsInfo", _state,
            () => [new ImageFilesystemInfo("/fake/images", (ulong)_images.Values.Sum(i => (long)i.Size), (ulong)_images.Count, null)], cancellationToken);
}
