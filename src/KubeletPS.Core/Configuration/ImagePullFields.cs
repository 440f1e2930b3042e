namespace KubeletPS.Core.Configuration;

/// <summary>
/// Kubelet's validation of the image pull fields (pkg/kubelet/apis/config/validation), with its messages:
/// maxParallelImagePulls positive and only above 1 when serializeImagePulls is false; registryPullQPS and
/// registryBurst not negative.
/// </summary>
public static class ImagePullFields
{
    /// <exception cref="KubeletConfigException">A field is out of range; the message is kubelet's and names the field.</exception>
    public static void Validate(KubeletConfiguration c, string? path)
    {
        if (c.MaxParallelImagePulls is { } max && max < 1)
            throw new KubeletConfigException($"invalid configuration: maxParallelImagePulls {max} must be a positive number", path, field: "maxParallelImagePulls");
        if (c.SerializeImagePulls == true && c.MaxParallelImagePulls is { } parallel && parallel != 1)
            throw new KubeletConfigException("invalid configuration: maxParallelImagePulls cannot be larger than 1 unless SerializeImagePulls (--serialize-image-pulls) is set to false", path, field: "maxParallelImagePulls");
        if (c.RegistryPullQps is { } qps && qps < 0)
            throw new KubeletConfigException($"invalid configuration: registryPullQPS (--registry-qps) {qps} must not be a negative number", path, field: "registryPullQPS");
        if (c.RegistryBurst < 0)
            throw new KubeletConfigException($"invalid configuration: registryBurst (--registry-burst) {c.RegistryBurst} must not be a negative number", path, field: "registryBurst");
    }
}
