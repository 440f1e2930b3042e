using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Pods.Logs;

/// <summary>
/// kubelet's LogRotatePolicy and the log manager's settings: a running container's log is rotated
/// once it reaches <see cref="MaxSize"/> bytes, and at most <see cref="MaxFiles"/> files are kept
/// (the current one included), checked every <see cref="MonitorInterval"/> by <see cref="MaxWorkers"/> workers.
/// </summary>
public sealed record ContainerLogRotationPolicy
{
    public const long DefaultMaxSize = 10L << 20;
    public const int DefaultMaxFiles = 5;
    public const int DefaultMaxWorkers = 1;
    public static readonly TimeSpan DefaultMonitorInterval = TimeSpan.FromSeconds(10);

    /// <summary>containerLogMaxSize in bytes.</summary>
    public long MaxSize { get; init; } = DefaultMaxSize;

    /// <summary>containerLogMaxFiles: at least 2 (the current file and the latest rotated one).</summary>
    public int MaxFiles { get; init; } = DefaultMaxFiles;

    /// <summary>containerLogMaxWorkers: containers whose logs are looked at at once.</summary>
    public int MaxWorkers { get; init; } = DefaultMaxWorkers;

    /// <summary>containerLogMonitorInterval (kubelet's configuration requires at least 3 s; tests use less).</summary>
    public TimeSpan MonitorInterval { get; init; } = DefaultMonitorInterval;

    /// <summary>The checks kubelet's NewContainerLogManager makes (the values themselves, whatever their source).</summary>
    /// <exception cref="KubeletException">A value kubelet refuses; the target is the field.</exception>
    public ContainerLogRotationPolicy Validated()
    {
        if (MaxFiles <= 1) throw Invalid($"invalid MaxFiles {MaxFiles}, must be > 1", "containerLogMaxFiles");
        if (MaxWorkers < 1) throw Invalid("invalid configuration: containerLogMaxWorkers must be greater than or equal to 1", "containerLogMaxWorkers");
        if (MonitorInterval <= TimeSpan.Zero) throw Invalid($"invalid configuration: containerLogMonitorInterval {GoDuration.Format(MonitorInterval)} must be positive", "containerLogMonitorInterval");
        return this;
    }

    /// <summary>
    /// The policy a kubelet configuration gives, validated as kubelet validates the configuration
    /// (with its messages); null when containerLogMaxSize is negative (kubelet then does not rotate).
    /// Unset fields take kubelet's defaults (10Mi, 5, 1, 10s).
    /// </summary>
    /// <exception cref="KubeletException">A field kubelet refuses; the target is the field.</exception>
    public static ContainerLogRotationPolicy? FromConfiguration(KubeletConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var maxFiles = configuration.ContainerLogMaxFiles ?? DefaultMaxFiles;
        if (maxFiles <= 1) throw Invalid("invalid configuration: containerLogMaxFiles must be greater than 1", "containerLogMaxFiles");
        var maxWorkers = configuration.ContainerLogMaxWorkers ?? DefaultMaxWorkers;
        if (maxWorkers < 1) throw Invalid("invalid configuration: containerLogMaxWorkers must be greater than or equal to 1", "containerLogMaxWorkers");
        var interval = configuration.ContainerLogMonitorInterval ?? DefaultMonitorInterval;
        if (interval < TimeSpan.FromSeconds(3)) throw Invalid("invalid configuration: containerLogMonitorInterval must be a positive time duration greater than or equal to 3s", "containerLogMonitorInterval");
        var maxSize = ParseMaxSize(string.IsNullOrEmpty(configuration.ContainerLogMaxSize) ? "10Mi" : configuration.ContainerLogMaxSize);
        return maxSize < 0 ? null : new ContainerLogRotationPolicy { MaxSize = maxSize, MaxFiles = maxFiles, MaxWorkers = maxWorkers, MonitorInterval = interval };
    }

    /// <summary>kubelet's parseMaxSize: a resource quantity (10Mi, 500Ki, 1G) as a whole number of bytes.</summary>
    public static long ParseMaxSize(string size)
    {
        ArgumentNullException.ThrowIfNull(size);
        decimal bytes;
        try
        {
            bytes = Api.QuantityExponents.Parse(size).ToDecimal();
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            throw Invalid($"failed to parse container log max size \"{size}\": {e.Message}", "containerLogMaxSize", e);
        }
        if (bytes != decimal.Truncate(bytes) || bytes > long.MaxValue || bytes < long.MinValue)
            throw Invalid($"failed to parse container log max size \"{size}\": invalid max log size", "containerLogMaxSize");
        return (long)bytes;
    }

    private static KubeletException Invalid(string message, string field, Exception? inner = null) => new(message, KubeletErrorKind.InvalidData, field, inner);
}
