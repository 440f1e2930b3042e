using System.Globalization;
using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Pods.Gc;

/// <summary>
/// Kubelet's images.ImageGCPolicy: when the image file system's usage reaches
/// <see cref="HighThresholdPercent"/>, images are removed down to <see cref="LowThresholdPercent"/>;
/// an image is only removed once it has been known for <see cref="MinAge"/>, and one unused for
/// longer than <see cref="MaxAge"/> (when above zero) is removed whatever the usage.
/// </summary>
public sealed record ImageGcPolicy
{
    /// <summary>KubeletConfiguration imageGCHighThresholdPercent (kubelet: 85; 100 turns image GC off).</summary>
    public int HighThresholdPercent { get; init; } = 85;

    /// <summary>KubeletConfiguration imageGCLowThresholdPercent (kubelet: 80).</summary>
    public int LowThresholdPercent { get; init; } = 80;

    /// <summary>KubeletConfiguration imageMinimumGCAge (kubelet: 2m).</summary>
    public TimeSpan MinAge { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>KubeletConfiguration imageMaximumGCAge (kubelet: 0, off).</summary>
    public TimeSpan MaxAge { get; init; }

    /// <summary>Kubelet's StartGarbageCollection: image GC turns off at a high threshold of 100 percent.</summary>
    public bool Enabled => HighThresholdPercent < 100;

    public static ImageGcPolicy FromConfiguration(KubeletConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var policy = new ImageGcPolicy
        {
            HighThresholdPercent = configuration.ImageGCHighThresholdPercent ?? 85,
            LowThresholdPercent = configuration.ImageGCLowThresholdPercent ?? 80,
            MinAge = configuration.ImageMinimumGCAge,
            MaxAge = configuration.ImageMaximumGCAge,
        };
        policy.Validate();
        return policy;
    }

    /// <summary>Kubelet's configuration validation (validation.go) for these fields; throws naming the field.</summary>
    public void Validate()
    {
        if (HighThresholdPercent is < 0 or > 100)
            throw Invalid("imageGCHighThresholdPercent", $"invalid configuration: imageGCHighThresholdPercent (--image-gc-high-threshold) {HighThresholdPercent} must be between 0 and 100, inclusive");
        if (LowThresholdPercent is < 0 or > 100)
            throw Invalid("imageGCLowThresholdPercent", $"invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) {LowThresholdPercent} must be between 0 and 100, inclusive");
        if (LowThresholdPercent >= HighThresholdPercent)
            throw Invalid("imageGCLowThresholdPercent", $"invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) {LowThresholdPercent} must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) {HighThresholdPercent}");
        if (MinAge < TimeSpan.Zero)
            throw Invalid("imageMinimumGCAge", $"invalid configuration: imageMinimumGCAge {GoDuration.Format(MinAge)} must not be negative");
        if (MaxAge < TimeSpan.Zero)
            throw Invalid("imageMaximumGCAge", $"invalid configuration: imageMaximumGCAge {GoDuration.Format(MaxAge)} must not be negative");
        if (MaxAge > TimeSpan.Zero && MaxAge <= MinAge)
            throw Invalid("imageMaximumGCAge", string.Create(CultureInfo.InvariantCulture,
                $"invalid configuration: imageMaximumGCAge {GoDuration.Format(MaxAge)} must be greater than imageMinimumGCAge {GoDuration.Format(MinAge)}"));
    }

    private static KubeletException Invalid(string field, string message) => new(message, KubeletErrorKind.InvalidData, field);
}
