using System.Collections.Concurrent;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Node;
using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.Core.Stats;

/// <summary>What a <see cref="CriStatsProvider"/> reads from; only the node name and the runtime are required.</summary>
public sealed record CriStatsProviderOptions
{
    public required string NodeName { get; init; }
    public required IRuntimeService Runtime { get; init; }
    /// <summary>Where ImageFsInfo is asked; null: <see cref="Runtime"/>, when it is one too (<see cref="CriRuntimeClient"/> is both).</summary>
    public IImageService? Images { get; init; }

    /// <summary>The kubelet root directory: nodefs, and the pods' volume directories under pods/UID/volumes.</summary>
    public string RootDirectory { get; init; } = KubeletConfigurationDefaults.DefaultRootDirectory;
    public string CgroupRoot { get; init; } = "/sys/fs/cgroup";
    public string ProcRoot { get; init; } = "/proc";
    public IKubeletLog Log { get; init; } = NullKubeletLog.Instance;
    /// <summary>The clock the age of the last summary is measured with (<see cref="CriStatsProvider.GetSummaryAsync(TimeSpan, CancellationToken)"/>).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// The stats of this node and its pods, as kubelet's CRI stats provider and summary provider
/// (pkg/kubelet/stats, pkg/kubelet/server/stats/summary.go) give them: containers from CRI
/// ListContainerStats, pods from their containers plus the sandbox's cgroup and network namespace,
/// the node from the root cgroup, /proc and statfs, the image file system from CRI ImageFsInfo.
/// One instance serves /stats/summary, /metrics/resource, Get-KubeletStats and the eviction
/// manager, so that they all see the same figures and the same CPU rates.
/// </summary>
/// <remarks>
/// ListPodSandboxStats is not used: kubelet uses it only with the PodAndContainerStatsFromCRI
/// feature gate (off by default), and containerd 1.6 fails it for every sandbox when one was created
/// without a cgroup parent. containerd also fills CpuUsage.usage_nano_cores, but from a baseline
/// every caller moves (crictl stats too) and as 0 on a first sample; the rate here is computed
/// from usageCoreNanoSeconds by <see cref="CpuUsageCache"/>, moved only by callers that update.
/// </remarks>
public sealed class CriStatsProvider
{
    private readonly CriStatsProviderOptions _options;
    private readonly CgroupStatsReader _cgroups;
    private readonly NodeStatsReader _node;
    private readonly ConcurrentDictionary<string, SandboxRuntimeDetails> _sandboxDetails = new(StringComparer.Ordinal);
    // The last full summary and the moment its collection started: served to readers that accept figures of that age.
    private sealed record TimedSummary(Summary Summary, long StartedAt);
    private TimedSummary? _lastSummary;

    public CriStatsProvider(CriStatsProviderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.NodeName);
        _options = options with { Runtime = options.Runtime ?? throw new ArgumentException("The runtime client is required.", nameof(options)) };
        _cgroups = new CgroupStatsReader(options.CgroupRoot, options.ProcRoot);
        _node = new NodeStatsReader(_cgroups, options.ProcRoot);
    }

    public CpuUsageCache CpuUsage { get; } = new();

    public CgroupVersion CgroupVersion => _cgroups.Version;

    /// <summary>
    /// The full summary (/stats/summary). <paramref name="updateCpuUsage"/> takes a new CPU sample for
    /// every rate (kubelet's eviction manager does, every 10 s); without it the rates are the last ones computed.
    /// </summary>
    public Task<Summary> GetSummaryAsync(bool updateCpuUsage, CancellationToken cancellationToken = default) =>
        CollectAsync(updateCpuUsage, cpuAndMemoryOnly: false, cancellationToken);

    /// <summary>
    /// The full summary no older than <paramref name="maxAge"/>: the last one collected (by the agent's sampler,
    /// every <see cref="DefaultSamplePeriod"/>) when it is recent enough, else a new one. This is how kubelet's
    /// eviction manager reads the figures cadvisor's housekeeping keeps: one collection serves every reader of an
    /// interval. Its CPU rates are the last ones computed.
    /// </summary>
    public async Task<Summary> GetSummaryAsync(TimeSpan maxAge, CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _lastSummary) is { } last && _options.Time.GetElapsedTime(last.StartedAt) <= maxAge) return last.Summary;
        return await CollectAsync(updateCpuUsage: false, cpuAndMemoryOnly: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>CPU and memory only, of the node and pods (/stats/summary?only_cpu_and_memory=true, /metrics/resource).</summary>
    public Task<Summary> GetCpuAndMemoryStatsAsync(CancellationToken cancellationToken = default) =>
        CollectAsync(updateCpuUsage: false, cpuAndMemoryOnly: true, cancellationToken);

    /// <summary>How often the agent takes a CPU sample for the rates: kubelet's eviction monitoring interval, whose summary moves them.</summary>
    public static readonly TimeSpan DefaultSamplePeriod = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The oldest summary the eviction manager's round reads instead of collecting one: cadvisor's
    /// max_housekeeping_interval (15 s), the oldest figures kubelet's eviction manager reads from cadvisor.
    /// Above the sample period, so that a round just before a late sample still finds the previous one.
    /// </summary>
    public static readonly TimeSpan MaxSummaryAge = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Takes a sample every <paramref name="period"/> so that usageNanoCores stays current for /stats/summary
    /// and Get-KubeletStats readers (kubelet's eviction manager does this with its synchronize); a failed sample
    /// is logged and the next one tried. Ends when cancelled. Each sample is a full summary, kept for the readers
    /// of <see cref="GetSummaryAsync(TimeSpan, CancellationToken)"/> (the eviction manager's round at the same interval).
    /// </summary>
    public async Task RunCpuUsageSamplerAsync(TimeSpan period, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(period);
        try
        {
            do
            {
                try { await CollectAsync(updateCpuUsage: true, cpuAndMemoryOnly: false, cancellationToken).ConfigureAwait(false); }
                catch (KubeletRuntimeException e) { _options.Log.Debug($"stats: CPU sample failed: {e.Message}"); }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>The pods' CPU and memory (kubelet's ListPodCPUAndMemoryStats), the cheap call for the eviction manager's memory signal.</summary>
    public async Task<IReadOnlyList<PodStats>> ListPodCpuAndMemoryStatsAsync(CancellationToken cancellationToken = default) =>
        (await CollectAsync(updateCpuUsage: false, cpuAndMemoryOnly: true, cancellationToken).ConfigureAwait(false)).Pods;

    private async Task<Summary> CollectAsync(bool updateCpuUsage, bool cpuAndMemoryOnly, CancellationToken cancellationToken)
    {
        var startedAt = _options.Time.GetTimestamp();
        var runtime = _options.Runtime;
        var sandboxes = RemoveTerminatedPods(await runtime.ListPodSandboxesAsync(null, cancellationToken).ConfigureAwait(false));
        var containers = (await runtime.ListContainersAsync(null, cancellationToken).ConfigureAwait(false))
            .Where(c => c.State == ContainerState.Running).ToDictionary(c => c.Id, StringComparer.Ordinal);
        var containerStats = await runtime.ListContainerStatsAsync(null, cancellationToken).ConfigureAwait(false);
        var now = DateTimeOffset.UtcNow;

        FsStats? imageFs = null, nodeFs = null;
        if (!cpuAndMemoryOnly)
        {
            nodeFs = NodeStatsReader.Filesystem(_options.RootDirectory, now);
            imageFs = await ImageFsAsync(_options.Images ?? runtime as IImageService, now, cancellationToken).ConfigureAwait(false);
        }

        var byId = sandboxes.ToDictionary(s => s.Id, StringComparer.Ordinal);
        var samples = new Dictionary<string, List<PodContainerSample>>(StringComparer.Ordinal);
        foreach (var stats in containerStats)
        {
            if (!containers.TryGetValue(stats.Id, out var container) || !byId.ContainsKey(container.PodSandboxId)) continue;
            if (!samples.TryGetValue(container.PodSandboxId, out var list)) samples[container.PodSandboxId] = list = [];
            list.Add(new PodContainerSample(container, stats));
        }

        var pods = new List<PodStats>();
        foreach (var (sandboxId, podContainers) in samples)
        {
            var sandbox = byId[sandboxId];
            var details = await DetailsAsync(runtime, sandboxId, cancellationToken).ConfigureAwait(false);
            var podCgroup = details is { CgroupParent.Length: > 0 } ? _cgroups.Read(details.CgroupParent, now) : null;
            if (cpuAndMemoryOnly)
            {
                pods.Add(PodStatsBuilder.Build(sandbox, podContainers, CpuUsage, updateCpuUsage, podCgroup, cpuAndMemoryOnly: true));
                continue;
            }
            var withLogs = podContainers.Select(c => c with { Logs = ContainerLogs(details, c.Container, nodeFs, now) }).ToList();
            pods.Add(PodStatsBuilder.Build(sandbox, withLogs, CpuUsage, updateCpuUsage, podCgroup,
                PodNetwork(details, now), Volumes(sandbox.Uid, now), imageFs, nodeFs));
        }
        foreach (var gone in _sandboxDetails.Keys.Where(id => !byId.ContainsKey(id)).ToList()) _sandboxDetails.TryRemove(gone, out _);
        CpuUsage.Prune(StatsConversions.ToNanos(now));

        var root = _node.ReadRootCgroup(now);
        var nodeRate = root is null ? null : CpuUsage.Rate("node", StatsConversions.ToNanos(root.Time), root.CpuUsageNanoseconds, updateCpuUsage);
        var node = new NodeStats
        {
            NodeName = _options.NodeName,
            StartTime = _node.BootTime(),
            Cpu = NodeStatsReader.Cpu(root, nodeRate),
            Memory = NodeStatsReader.Memory(root, MachineInfoReader.HostMemoryCapacityBytes),
            SystemContainers = PodsContainer(now) is { } podsContainer ? [podsContainer] : null,
        };
        if (!cpuAndMemoryOnly)
        {
            var machine = new MachineInfoReader(rootDirectory: _options.RootDirectory).Read();
            node.Network = _node.Network(now);
            node.Fs = nodeFs;
            node.Runtime = imageFs is null ? null : new RuntimeStats { ImageFs = imageFs, ContainerFs = imageFs };
            node.Rlimit = NodeStatsReader.Rlimit(now, machine);
        }
        var summary = new Summary
        {
            Node = node,
            Pods = pods.OrderBy(p => p.PodRef.Namespace, StringComparer.Ordinal).ThenBy(p => p.PodRef.Name, StringComparer.Ordinal).ToList(),
        };
        if (!cpuAndMemoryOnly) Remember(new TimedSummary(summary, startedAt));
        return summary;
    }

    /// <summary>Keeps the summary unless one whose collection started later is already kept (two collections can overlap).</summary>
    private void Remember(TimedSummary summary)
    {
        for (var last = Volatile.Read(ref _lastSummary); last is null || last.StartedAt <= summary.StartedAt; last = Volatile.Read(ref _lastSummary))
        {
            if (Interlocked.CompareExchange(ref _lastSummary, summary, last) == last) return;
        }
    }

    /// <summary>The cgroups the pods run under (kubepods, as the cgroupfs or the systemd driver names it).</summary>
    public static readonly IReadOnlyList<string> PodsCgroupNames = ["/kubepods.slice", "/kubepods"];

    /// <summary>
    /// Kubelet's "pods" system container: the memory of the cgroup all pods run under, its available bytes
    /// the cgroup's limit (node allocatable) minus its working set, from which the eviction manager's
    /// allocatableMemory.available signal comes. Null while no kubepods cgroup exists or it has no limit.
    /// </summary>
    private ContainerStats? PodsContainer(DateTimeOffset now)
    {
        var name = PodsCgroupNames.FirstOrDefault(_cgroups.Exists);
        if (name is null || _cgroups.Read(name, now) is not { WorkingSetBytes: not null, MemoryLimitBytes: { } limit } sample) return null;
        return new ContainerStats
        {
            Name = SystemContainerPods,
            StartTime = now,
            Memory = StatsConversions.Memory(sample, limit),
        };
    }

    /// <summary>The name of the pods' system container in the summary (statsapi.SystemContainerPods).</summary>
    public const string SystemContainerPods = "pods";

    /// <summary>kubelet's ImageFsStats: the first image file system's use (CRI) with its capacity (statfs of its mount point).</summary>
    private async Task<FsStats?> ImageFsAsync(IImageService? images, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (images is null) return null;
        IReadOnlyList<ImageFilesystemInfo> filesystems;
        try { filesystems = await images.ImageFsInfoAsync(cancellationToken).ConfigureAwait(false); }
        catch (KubeletRuntimeException e) when (e.Kind != RuntimeErrorKind.EndpointMissing && e.Kind != RuntimeErrorKind.ConnectionFailed)
        {
            _options.Log.Debug($"ImageFsInfo failed; the summary has no imageFs: {e.Message}");
            return null;
        }
        if (filesystems.Count == 0) return null;
        var fs = filesystems[0];
        var statfs = fs.Mountpoint.Length > 0 ? NodeStatsReader.Filesystem(fs.Mountpoint, now) : null;
        return new FsStats { Time = fs.Timestamp ?? now, UsedBytes = fs.UsedBytes, InodesUsed = fs.InodesUsed }.OnFilesystem(statfs);
    }

    /// <summary>A sandbox's pid, cgroup parent and log directory: asked once per sandbox (they do not change while it lives).</summary>
    private async Task<SandboxRuntimeDetails?> DetailsAsync(IRuntimeService runtime, string sandboxId, CancellationToken cancellationToken)
    {
        if (_sandboxDetails.TryGetValue(sandboxId, out var known)) return known;
        try
        {
            var details = await runtime.PodSandboxDetailsAsync(sandboxId, cancellationToken).ConfigureAwait(false);
            if (details.Pid is not null) _sandboxDetails[sandboxId] = details;
            return details;
        }
        catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.NotFound)
        {
            return null;
        }
    }

    /// <summary>The pod's network: the interfaces of the sandbox's network namespace, read through its pause process.</summary>
    private NetworkStats? PodNetwork(SandboxRuntimeDetails? details, DateTimeOffset now)
    {
        if (details?.Pid is not { } pid) return null;
        var interfaces = NetDevReader.Read(Path.Combine(_options.ProcRoot, pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "net", "dev"));
        return StatsConversions.ToNetworkStats(now, interfaces);
    }

    /// <summary>The pod's emptyDir volumes under ROOT/pods/UID/volumes/kubernetes.io~empty-dir, measured as the eviction manager measures them.</summary>
    private List<VolumeStats> Volumes(string uid, DateTimeOffset now)
    {
        var result = new List<VolumeStats>();
        var dir = Path.Combine(_options.RootDirectory, "pods", uid, "volumes", "kubernetes.io~empty-dir");
        if (!Directory.Exists(dir)) return result;
        foreach (var volume in Directory.EnumerateDirectories(dir).Order(StringComparer.Ordinal))
        {
            var used = EmptyDirLimits.MeasureUsage(volume, MemoryBackedVolumes.IsTmpfsMountPoint(volume));
            var fs = NodeStatsReader.Filesystem(volume, now);
            result.Add(new VolumeStats
            {
                Name = Path.GetFileName(volume),
                Time = now,
                UsedBytes = used is { } u ? (ulong)u : null,
            }.OnFilesystem(fs));
        }
        return result;
    }

    /// <summary>A container's log directory (LOGDIR/NAME) as kubelet's getPodContainerLogStats measures it.</summary>
    private static FsStats? ContainerLogs(SandboxRuntimeDetails? details, ContainerInfo container, FsStats? nodeFs, DateTimeOffset now)
    {
        if (details is not { LogDirectory.Length: > 0 }) return null;
        var name = container.Labels.TryGetValue(KubeletLabels.ContainerName, out var n) && n.Length > 0 ? n : container.Name;
        var dir = Path.Combine(details.LogDirectory, name);
        if (!Directory.Exists(dir)) return null;
        var used = FileSystemStats.DiskUsage(dir);
        return new FsStats { Time = now, UsedBytes = used is { } u ? (ulong)u : null }.OnFilesystem(nodeFs);
    }

    /// <summary>kubelet's removeTerminatedPods: of several sandboxes of one pod name, the ready ones, else the newest.</summary>
    internal static List<PodSandboxInfo> RemoveTerminatedPods(IReadOnlyList<PodSandboxInfo> sandboxes)
    {
        var result = new List<PodSandboxInfo>();
        foreach (var group in sandboxes.OrderBy(s => s.CreatedAt).GroupBy(s => (s.Namespace, s.Name)))
        {
            var all = group.ToList();
            var ready = all.Where(s => s.State == PodSandboxState.Ready).ToList();
            result.AddRange(all.Count == 1 ? all : ready.Count > 0 ? ready : [all[^1]]);
        }
        return result;
    }
}
