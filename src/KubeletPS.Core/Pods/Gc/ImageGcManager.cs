using System.Globalization;
using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Stats;

namespace KubeletPS.Core.Pods.Gc;

/// <summary>The image file system's size and free space (kubelet's ImageFsStats capacity and available).</summary>
public sealed record ImageFsCapacity(long CapacityBytes, long AvailableBytes);

/// <summary>One image GC pass: what went (or would go), and the figures the decision was made on.</summary>
/// <param name="Removals">The images removed or, in a dry run, that would be.</param>
/// <param name="UsagePercent">The image file system's usage; null when it was not measured.</param>
/// <param name="AmountToFree">Bytes to free to get down to the low threshold; 0 below the high threshold.</param>
/// <param name="Freed">Bytes of the images removed (their sizes as the runtime reports them).</param>
/// <param name="Error">Kubelet's error when the pass fell short or failed; null when it did what it had to.</param>
public sealed record ImageGcResult(IReadOnlyList<GcRemoval> Removals, int? UsagePercent, long AmountToFree, long Freed, string? Error);

/// <summary>
/// Kubelet's image garbage collector (pkg/kubelet/images/image_gc_manager.go) over CRI. It tracks,
/// per image id, when it was first detected and last used (an image is in use while any container
/// the runtime has, running or not, references it); <see cref="GarbageCollectAsync"/> removes images
/// unused for longer than imageMaximumGCAge, then, when the image file system's usage is at or above
/// the high threshold, frees space down to the low threshold, least recently used first, skipping
/// images detected less than imageMinimumGCAge ago. Images in use and pinned images (CRI's pinned
/// flag, and the runtime's sandbox image, which containerd 1.6 does not report as pinned) are never removed.
/// </summary>
public sealed class ImageGcManager : IImageGarbageCollector
{
    public const string FreeDiskSpaceFailed = "FreeDiskSpaceFailed";
    public const string InvalidDiskCapacity = "InvalidDiskCapacity";
    public const string ImageGCFailed = "ImageGCFailed";

    /// <summary>Kubelet's ImageGCPeriod.</summary>
    public static readonly TimeSpan DefaultPeriod = TimeSpan.FromMinutes(5);

    private readonly IRuntimeService _runtime;
    private readonly IImageService _images;
    private readonly IKubeletLog _log;
    private readonly TimeProvider _time;
    private readonly DateTimeOffset _beganGc;
    private readonly Dictionary<string, ImageRecord> _records = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _pass = new(1, 1);

    private sealed class ImageRecord
    {
        public DateTimeOffset FirstDetected { get; init; }
        public DateTimeOffset LastUsed { get; set; } = DateTimeOffset.MinValue;
        public long Size { get; set; }
        public bool Pinned { get; set; }
        public string Name { get; set; } = "";
    }

    public ImageGcManager(IRuntimeService runtime, IImageService images, ImageGcPolicy policy, IKubeletLog log, TimeProvider time)
    {
        _runtime = runtime ?? throw new ArgumentNullException(nameof(runtime));
        _images = images ?? throw new ArgumentNullException(nameof(images));
        ArgumentNullException.ThrowIfNull(policy);
        policy.Validate();
        Policy = policy;
        _log = log ?? throw new ArgumentNullException(nameof(log));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _beganGc = time.GetUtcNow();
    }

    public ImageGcPolicy Policy { get; }

    /// <summary>The runtime's sandbox (pause) image, never removed; null when unknown (the agent asks the runtime at start).</summary>
    public string? SandboxImage
    {
        get => Volatile.Read(ref _sandboxImage);
        set => Volatile.Write(ref _sandboxImage, value);
    }

    private string? _sandboxImage;

    /// <summary>Where FreeDiskSpaceFailed and InvalidDiskCapacity go, about <see cref="NodeName"/>.</summary>
    public IEventRecorder Events { get; init; } = NullEventRecorder.Instance;

    public string NodeName { get; init; } = "";

    /// <summary>Where removed images are counted (kubelet_image_garbage_collected_total by reason); none when null.</summary>
    public Metrics.KubeletMetricSet? Metrics { get; init; }

    /// <summary>Kubelet's ImageGarbageCollectedTotalReasonAge and ImageGarbageCollectedTotalReasonSpace.</summary>
    public const string ReasonAge = "age";
    public const string ReasonSpace = "space";

    /// <summary>The capacity and free space of the file system at the image file system's mount point (statfs by default).</summary>
    public Func<string, ImageFsCapacity?> MeasureFilesystem { get; init; } = StatFilesystem;

    /// <summary>
    /// Kubelet's detectImages: records new images, marks the used ones, forgets the gone ones.
    /// <paramref name="detectedAt"/> dates images seen for the first time (default now); a one-off pass
    /// that cannot know how long the images have been there gives a time imageMinimumGCAge ago.
    /// </summary>
    public async Task DetectImagesAsync(CancellationToken cancellationToken, DateTimeOffset? detectedAt = null)
    {
        await _pass.WaitAsync(cancellationToken).ConfigureAwait(false);
        try { await DetectAsync(detectedAt ?? _time.GetUtcNow(), cancellationToken).ConfigureAwait(false); }
        finally { _pass.Release(); }
    }

    /// <summary>Kubelet's GarbageCollect; in a dry run nothing is removed and no event is recorded.</summary>
    public async Task<ImageGcResult> GarbageCollectAsync(GcMode mode, CancellationToken cancellationToken)
    {
        await _pass.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Kubelet turns image GC off at a high threshold of 100 (StartGarbageCollection); so does the pass itself.
            if (!Policy.Enabled) return new ImageGcResult([], null, 0, 0, null);
            var freeTime = _time.GetUtcNow();
            var candidates = await InEvictionOrderAsync(freeTime, cancellationToken).ConfigureAwait(false);
            var removals = new List<GcRemoval>();
            candidates = await FreeOldImagesAsync(candidates, freeTime, mode, removals, cancellationToken).ConfigureAwait(false);

            var filesystems = await _images.ImageFsInfoAsync(cancellationToken).ConfigureAwait(false);
            var measured = filesystems.Count == 0 ? null : MeasureFilesystem(filesystems[0].Mountpoint);
            if (measured is null || measured.CapacityBytes <= 0)
            {
                const string invalid = "invalid capacity 0 on image filesystem";
                if (mode == GcMode.Remove) Events.Event(EventReferences.ForNode(NodeName), EventTypes.Warning, InvalidDiskCapacity, invalid);
                return new ImageGcResult(removals, null, 0, removals.Sum(r => r.SizeBytes), invalid);
            }
            var capacity = measured.CapacityBytes;
            var available = Math.Min(measured.AvailableBytes, capacity);
            var usagePercent = 100 - (int)(available * 100 / capacity);
            if (usagePercent < Policy.HighThresholdPercent)
                return new ImageGcResult(removals, usagePercent, 0, removals.Sum(r => r.SizeBytes), ErrorOf(removals));

            var amountToFree = capacity * (100 - Policy.LowThresholdPercent) / 100 - available;
            _log.Info(string.Create(CultureInfo.InvariantCulture,
                $"image GC: disk usage on image filesystem is at {usagePercent}%, over the high threshold ({Policy.HighThresholdPercent}%); trying to free {amountToFree} bytes down to the low threshold ({Policy.LowThresholdPercent}%)."));
            var byAge = removals.Count;
            var freed = await FreeSpaceAsync(amountToFree, freeTime, candidates, mode, removals, cancellationToken).ConfigureAwait(false);
            var error = ErrorOf(removals);
            if (error is null && freed < amountToFree)
            {
                error = string.Create(CultureInfo.InvariantCulture,
                    $"Failed to garbage collect required amount of images. Attempted to free {amountToFree} bytes, but only found {freed} bytes eligible to free.");
                if (mode == GcMode.Remove) Events.Event(EventReferences.ForNode(NodeName), EventTypes.Warning, FreeDiskSpaceFailed, error);
            }
            return new ImageGcResult(removals, usagePercent, amountToFree, freed + removals.Take(byAge).Sum(r => r.SizeBytes), error);
        }
        finally { _pass.Release(); }
    }

    /// <summary>Kubelet's DeleteUnusedImages (the eviction manager's disk pressure): every unused, unpinned image old enough.</summary>
    public async Task<long> DeleteUnusedImagesAsync(CancellationToken cancellationToken)
    {
        await _pass.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _log.Info("image GC: attempting to delete unused images.");
            var freeTime = _time.GetUtcNow();
            var candidates = await InEvictionOrderAsync(freeTime, cancellationToken).ConfigureAwait(false);
            var removals = new List<GcRemoval>();
            var freed = await FreeSpaceAsync(long.MaxValue, freeTime, candidates, GcMode.Remove, removals, cancellationToken).ConfigureAwait(false);
            if (ErrorOf(removals) is { } error) _log.Warning($"image GC: {error}");
            return freed;
        }
        finally { _pass.Release(); }
    }

    private async Task<HashSet<string>> DetectAsync(DateTimeOffset detectTime, CancellationToken ct)
    {
        var images = await _images.ListImagesAsync(null, ct).ConfigureAwait(false);
        var containers = await _runtime.ListContainersAsync(null, ct).ConfigureAwait(false);
        // CRI's container.imageRef is the image id with containerd; other runtimes (and the fake) give
        // a tag or digest, so an image is in use when any of its names is referenced.
        var references = containers.SelectMany(c => new[] { c.ImageRef, c.Image }).Where(r => !string.IsNullOrEmpty(r)).ToHashSet(StringComparer.Ordinal);
        var inUse = new HashSet<string>(StringComparer.Ordinal);
        var now = _time.GetUtcNow();
        var current = new HashSet<string>(StringComparer.Ordinal);
        foreach (var image in images)
        {
            current.Add(image.Id);
            if (!_records.TryGetValue(image.Id, out var record))
            {
                record = new ImageRecord { FirstDetected = detectTime };
                _records[image.Id] = record;
            }
            if (references.Contains(image.Id) || image.RepoTags.Any(references.Contains) || image.RepoDigests.Any(references.Contains))
            {
                inUse.Add(image.Id);
                record.LastUsed = now;
            }
            record.Size = (long)Math.Min(image.Size, long.MaxValue);
            record.Pinned = image.Pinned || (SandboxImage is { Length: > 0 } sandbox && (image.RepoTags.Contains(sandbox) || image.RepoDigests.Contains(sandbox) || image.Id == sandbox));
            record.Name = image.RepoTags.Count > 0 ? image.RepoTags[0] : image.RepoDigests.Count > 0 ? image.RepoDigests[0] : image.Id;
        }
        foreach (var gone in _records.Keys.Where(id => !current.Contains(id)).ToList()) _records.Remove(gone);
        return inUse;
    }

    private async Task<List<(string Id, ImageRecord Record)>> InEvictionOrderAsync(DateTimeOffset freeTime, CancellationToken ct)
    {
        var inUse = await DetectAsync(freeTime, ct).ConfigureAwait(false);
        return _records.Where(r => !inUse.Contains(r.Key) && !r.Value.Pinned)
            .Select(r => (r.Key, r.Value))
            .OrderBy(r => r.Value.LastUsed).ThenBy(r => r.Value.FirstDetected).ThenBy(r => r.Key, StringComparer.Ordinal)
            .ToList();
    }

    // Kubelet's freeOldImages: only once imageMaximumGCAge has passed since the collector began.
    private async Task<List<(string Id, ImageRecord Record)>> FreeOldImagesAsync(List<(string Id, ImageRecord Record)> images, DateTimeOffset freeTime, GcMode mode, List<GcRemoval> removals, CancellationToken ct)
    {
        if (Policy.MaxAge <= TimeSpan.Zero || freeTime - _beganGc <= Policy.MaxAge) return images;
        var remaining = new List<(string Id, ImageRecord Record)>();
        foreach (var image in images)
        {
            if (freeTime - image.Record.LastUsed > Policy.MaxAge)
            {
                var since = image.Record.LastUsed == DateTimeOffset.MinValue ? "never used" : $"unused for {Configuration.GoDuration.Format(freeTime - image.Record.LastUsed)}";
                removals.Add(await FreeImageAsync(image.Id, image.Record, $"{since}, over imageMaximumGCAge {Configuration.GoDuration.Format(Policy.MaxAge)}", ReasonAge, mode, ct).ConfigureAwait(false));
            }
            else remaining.Add(image);
        }
        return remaining;
    }

    private async Task<long> FreeSpaceAsync(long bytesToFree, DateTimeOffset freeTime, List<(string Id, ImageRecord Record)> images, GcMode mode, List<GcRemoval> removals, CancellationToken ct)
    {
        long freed = 0;
        foreach (var (id, record) in images)
        {
            // Used during this pass (after freeTime) or detected too recently: it may be about to be used.
            if (record.LastUsed >= freeTime) continue;
            if (freeTime - record.FirstDetected < Policy.MinAge) continue;
            var removal = await FreeImageAsync(id, record, bytesToFree == long.MaxValue ? "unused (delete unused images)" : "unused, least recently used first, to free space", ReasonSpace, mode, ct).ConfigureAwait(false);
            removals.Add(removal);
            if (removal.Error is not null) continue;
            freed += removal.SizeBytes;
            if (freed >= bytesToFree) break;
        }
        return freed;
    }

    private async Task<GcRemoval> FreeImageAsync(string id, ImageRecord record, string reason, string metricReason, GcMode mode, CancellationToken ct)
    {
        if (mode == GcMode.DryRun) return new GcRemoval(GcObjectKind.Image, id, record.Name, "", reason, record.Size, false);
        _log.Info($"image GC: removing image {id} ({record.Name}) to free {record.Size} bytes: {reason}.");
        try
        {
            await _images.RemoveImageAsync(id, ct).ConfigureAwait(false);
        }
        catch (KubeletRuntimeException e) when (e.Kind != RuntimeErrorKind.NotFound)
        {
            return new GcRemoval(GcObjectKind.Image, id, record.Name, "", reason, record.Size, false, e.Message);
        }
        _records.Remove(id);
        Metrics?.ImageGarbageCollected.Inc(metricReason);
        return new GcRemoval(GcObjectKind.Image, id, record.Name, "", reason, record.Size, true);
    }

    private static string? ErrorOf(List<GcRemoval> removals)
    {
        var failed = removals.Where(r => r.Error is not null).ToList();
        if (failed.Count == 0) return null;
        var freed = removals.Where(r => r.Removed).Sum(r => r.SizeBytes);
        return string.Create(CultureInfo.InvariantCulture, $"freed {freed} bytes with errors in image deletion: [{string.Join(", ", failed.Select(f => f.Error))}]");
    }

    private static ImageFsCapacity? StatFilesystem(string mountpoint)
    {
        if (string.IsNullOrEmpty(mountpoint)) return null;
        var fs = NodeStatsReader.Filesystem(mountpoint, DateTimeOffset.UtcNow);
        return fs?.CapacityBytes is { } capacity && fs.AvailableBytes is { } available ? new ImageFsCapacity((long)capacity, (long)available) : null;
    }
}
