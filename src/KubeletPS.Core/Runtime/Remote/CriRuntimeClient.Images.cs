namespace KubeletPS.Core.Runtime.Remote;

// CRI's ImageService (kubelet's remote_image.go).
public sealed partial class CriRuntimeClient
{
    public async Task<IReadOnlyList<ImageInfo>> ListImagesAsync(string? image = null, CancellationToken cancellationToken = default)
    {
        var request = new Cri.ListImagesRequest();
        if (!string.IsNullOrEmpty(image))
        {
            request.Filter = new Cri.ImageFilter { Image = new Cri.ImageSpec { Image = image } };
        }

        var response = await CallAsync("ListImages", o => _images.ListImagesAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.Images.Select(CriMapping.FromCri).ToArray();
    }

    /// <summary>Returns the image, or null when the runtime does not have it.</summary>
    public async Task<ImageInfo?> ImageStatusAsync(string image, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(image);
        var response = await CallAsync("ImageStatus", o => _images.ImageStatusAsync(new Cri.ImageStatusRequest { Image = new Cri.ImageSpec { Image = image } }, o), cancellationToken).ConfigureAwait(false);
        return response.Image is null ? null : CriMapping.FromCri(response.Image);
    }

    /// <summary>Pulls an image; returns the image reference (id) the runtime resolved it to.</summary>
    public Task<string> PullImageAsync(string image, PodSandboxSpec? sandboxSpec = null, CancellationToken cancellationToken = default)
        => PullImageAsync(image, null, sandboxSpec, cancellationToken);

    /// <summary>Pulls an image with the registry credentials in CRI's AuthConfig (none when null).</summary>
    public async Task<string> PullImageAsync(string image, RegistryAuth? auth, PodSandboxSpec? sandboxSpec, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(image);
        var request = new Cri.PullImageRequest
        {
            Image = new Cri.ImageSpec { Image = image },
            Auth = auth is null ? null : new Cri.AuthConfig
            {
                Username = auth.Username,
                Password = auth.Password,
                Auth = auth.Auth,
                ServerAddress = auth.ServerAddress,
                IdentityToken = auth.IdentityToken,
                RegistryToken = auth.RegistryToken,
            },
            SandboxConfig = sandboxSpec is null ? null : CriMapping.ToCri(sandboxSpec),
        };
        var response = await CallAsync("PullImage", o => _images.PullImageAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.ImageRef;
    }

    public Task RemoveImageAsync(string image, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(image);
        return CallAsync("RemoveImage", o => _images.RemoveImageAsync(new Cri.RemoveImageRequest { Image = new Cri.ImageSpec { Image = image } }, o), cancellationToken);
    }

    public async Task<IReadOnlyList<ImageFilesystemInfo>> ImageFsInfoAsync(CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("ImageFsInfo", o => _images.ImageFsInfoAsync(new Cri.ImageFsInfoRequest(), o), cancellationToken).ConfigureAwait(false);
        return response.ImageFilesystems.Select(CriMapping.FromCri).ToArray();
    }
}
