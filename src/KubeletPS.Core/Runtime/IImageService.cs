using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.Core.Runtime;

/// <summary>
/// CRI's image service as the pod engine uses it (kubelet's <c>internalapi.ImageManagerService</c>
/// in cri-api's services.go). <see cref="CriRuntimeClient"/> is the implementation over gRPC.
/// </summary>
public interface IImageService
{
    Task<IReadOnlyList<ImageInfo>> ListImagesAsync(string? image = null, CancellationToken cancellationToken = default);

    /// <summary>Returns the image, or null when the runtime does not have it.</summary>
    Task<ImageInfo?> ImageStatusAsync(string image, CancellationToken cancellationToken = default);

    /// <summary>Pulls an image; returns the image reference (id) the runtime resolved it to.</summary>
    Task<string> PullImageAsync(string image, PodSandboxSpec? sandboxSpec = null, CancellationToken cancellationToken = default);

    /// <summary>Pulls an image with the registry credentials in CRI's AuthConfig (none when null); returns the image reference.</summary>
    Task<string> PullImageAsync(string image, RegistryAuth? auth, PodSandboxSpec? sandboxSpec, CancellationToken cancellationToken);

    Task RemoveImageAsync(string image, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<ImageFilesystemInfo>> ImageFsInfoAsync(CancellationToken cancellationToken = default);
}
