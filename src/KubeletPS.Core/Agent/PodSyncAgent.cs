using System.Net.NetworkInformation;
using System.Net.Sockets;
using k8s.Models;
using KubeletPS.Core.Api;
using KubeletPS.Core.Cm;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Pods.Admission;
using KubeletPS.Core.Pods.Config;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Pods.Gc;
using KubeletPS.Core.Pods.Images;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Logs;
using KubeletPS.Core.Pods.Network;
using KubeletPS.Core.Pods.Pleg;
using KubeletPS.Core.Pods.Probes;
using KubeletPS.Core.Pods.Status;
using KubeletPS.Core.Pods.Token;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Pods.Workers;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.Core.Agent;

/// <summary>
/// The composition that runs pods on a node: pod sources merged by <see cref="PodConfig"/>, the
/// <see cref="GenericPleg"/> relisting the runtime, <see cref="PodWorkers"/> syncing each pod through
/// the <see cref="KubeGenericRuntimeManager"/>, probes, and statuses to an <see cref="IPodStatusSink"/>.
/// On start it adopts the sandboxes and containers it finds whose pods are still desired, and
/// kills and removes the ones no source wants (once every source has reported).
/// </summary>
public sealed partial class PodSyncAgent : IAsyncDisposable
{
    private readonly PodSyncAgentOptions _options;
    private readonly IKubeletLog _log;
    private readonly IRuntimeService _runtime;
    private readonly CriRuntimeClient? _ownedRuntime;
    private readonly List<IPodSource> _sources = [];
    private readonly PodConfig _config;
    private readonly ProbeManager _probes;
    private readonly PodStatusGenerator _statusGenerator;
    private readonly PodWorkers _workers;
    private readonly GenericPleg _pleg;
    private readonly EmptyDirLimits _emptyDirLimits;
    private readonly EvictionManager _eviction;
    private readonly IEventRecorder _events;
    private readonly object _lock = new();
    private IReadOnlyDictionary<string, V1Pod> _desired = new Dictionary<string, V1Pod>();
    private readonly Dictionary<string, string> _semanticKeys = new(StringComparer.Ordinal);
    private readonly PodSecuritySettings _security;
    private readonly SecurityAdmitHandler _admission;
    private readonly IPodStatusSink _sink;
    private readonly ContainerLogManager? _logRotation;
    private volatile ContainerManager? _containerManager;
    private int _running;

    /// <summary>The agent's CRI calls so far, per operation.</summary>
    public RuntimeOperationStats RuntimeOperations => _runtime.Operations;

    /// <summary>PLEG events that woke no pod worker: its last runtime read had already shown the change.</summary>
    public long PlegEventsAlreadySeen => _workers.PlegEventsAlreadySeen;

    public PodSyncAgent(PodSyncAgentOptions options)
    {
        // As kubelet's sysctl allowlist, which refuses to start: a node-wide sysctl would change the node for every pod.
        if (PodSecurityAdmission.CheckAllowedUnsafeSysctls(options.AllowedUnsafeSysctls) is { } badSysctl)
            throw new KubeletException(badSysctl, KubeletErrorKind.InvalidData, "allowedUnsafeSysctls");
        _options = options;
        _log = options.Log;
        var time = options.Time;
        IImageService imageService;
        if (options.RuntimeServices is var (runtime, images))
        {
            _runtime = runtime ?? throw new ArgumentException("RuntimeServices has no runtime service.", nameof(options));
            imageService = images ?? throw new ArgumentException("RuntimeServices has no image service.", nameof(options));
        }
        else
        {
            _ownedRuntime = new CriRuntimeClient(options.RuntimeEndpoint, options.RuntimeRequestTimeout);
            _runtime = _ownedRuntime;
            imageService = _ownedRuntime;
        }
        if (!string.IsNullOrEmpty(options.StaticPodPath))
            _sources.Add(new StaticPodSource(options.StaticPodPath, options.NodeName, options.FileCheckFrequency, time));
        _sources.AddRange(options.AdditionalSources);
        _config = new PodConfig(_sources.Select(s => s.Name));
        StatusStore = new LocalPodStatusStore(options.RootDirectory);
        var sink = options.StatusSink ?? new LocalPodStatusSink(StatusStore);
        _sink = sink;
        _security = new PodSecuritySettings
        {
            SeccompDefault = options.SeccompDefault,
            SeccompProfileRoot = PodSecuritySettings.ForRoot(options.RootDirectory).SeccompProfileRoot,
            AllowedUnsafeSysctls = options.AllowedUnsafeSysctls,
        };
        HostIp = options.NodeIp ?? FindHostIp();

        var prober = new Prober(_runtime);
        var backOff = new CrashLoopBackOff(options.CrashLoopBackOffBase, options.CrashLoopBackOffMax, time) { ResetAfter = options.CrashLoopBackOffResetAfter };
        var events = options.Events ?? NullEventRecorder.Instance;
        _probes = new ProbeManager(prober, _log, time) { Events = events, Metrics = options.Metrics };
        var allocatable = options.NodeAllocatable ?? MachineAllocatable(options.RootDirectory);
        if (options.Cgroups is { } cgroups) _containerManager = new ContainerManager(cgroups, MachineCapacity(options.RootDirectory), _log);
        var specs = new PodRuntimeSpecs(options.PodLogsDirectory, options.RootDirectory,
            new PodDns(options.ClusterDns, options.ClusterDomain, options.ResolvConf, _log), HostIp)
        { Objects = options.ConfigObjects, NodeAllocatable = allocatable, Security = _security, CgroupParent = options.Cgroups is null ? null : pod => _containerManager?.PodCgroupParent(pod) };
        var tokens = options.ConfigObjects is { } objects ? new ServiceAccountTokenManager(objects.CreateServiceAccountToken, time, _log) : null;
        var volumes = new PodVolumes(options.RootDirectory, options.ConfigObjects, tokens) { NodeAllocatable = allocatable };
        _emptyDirLimits = new EmptyDirLimits(volumes, _log);
        _events = events;
        // Without a manager from the full agent (no thresholds, no stats provider): emptyDir limits only.
        _eviction = options.Eviction ?? new EvictionManager(new EvictionConfig { MonitoringInterval = options.EvictionMonitoringPeriod }, null, time, _log) { Events = events, Metrics = options.Metrics };
        var manager = new KubeGenericRuntimeManager(_runtime, specs, volumes,
            new ImageManager(imageService, _log, options.ImagePullProgress, time,
                new ImagePuller(imageService, options.SerializeImagePulls, options.MaxParallelImagePulls, options.RegistryPullQps, options.RegistryBurst, time),
                new ImagePullCredentials(options.ConfigObjects, options.RootDirectory, _log, time) { Events = events }) { Events = events },
            _probes, prober, backOff, _log)
        {
            Events = events,
            MaxParallelSandboxCreations = options.MaxParallelSandboxCreations,
            Metrics = options.Metrics,
            EnsurePodCgroup = options.Cgroups is null ? null : pod => _containerManager?.EnsurePodCgroup(pod, ActivePods()),
        };
        _statusGenerator = new PodStatusGenerator("containerd", HostIp, time);
        _pleg = new GenericPleg(_runtime, options.RelistPeriod, _log, time) { Metrics = options.Metrics };
        var workers = new PodWorkers(manager, _statusGenerator, sink, _probes, _log, options.SyncFrequency, options.PodLogsDirectory, time)
        {
            // The relist runs once before any worker starts (adoption), so a pod it did not see is new to the runtime.
            MayExistInRuntime = _pleg.MayHavePod,
            Metrics = options.Metrics,
        };
        _workers = workers;
        _admission = new SecurityAdmitHandler(_security, () => workers.FinishedPodUids);
        _workers.StatusChanged += pod => StatusChanged?.Invoke(pod);
        _probes.ResultChanged += workers.Signal;
        _pleg.PodEvent += workers.Signal;
        _pleg.Relisted += Housekeeping;
        ImageGc = new ImageGcManager(_runtime, imageService, options.ImageGc, _log, time) { Events = events, NodeName = options.NodeName, SandboxImage = options.SandboxImage, Metrics = options.Metrics };
        ContainerGc = new ContainerGc(_runtime, new AgentPodStates(this), options.ContainerGc, _log, time) { PodLogsDirectory = options.PodLogsDirectory, RootDirectory = options.RootDirectory };
        if (options.ContainerLogRotation is { } rotation) _logRotation = new ContainerLogManager(_runtime, rotation, _log, time);
    }

    public PodSyncAgentOptions Options => _options;

    /// <summary>The node IP reported as hostIP.</summary>
    public string? HostIp { get; }

    public LocalPodStatusStore StatusStore { get; }

    /// <summary>When PLEG last relisted the runtime (the kubelet server's healthz checks); null before the first.</summary>
    public DateTimeOffset? LastRelist => _pleg.LastRelist;

    /// <summary>The container manager (QoS and pod cgroups); null without <see cref="PodSyncAgentOptions.Cgroups"/>.</summary>
    public ContainerManager? ContainerManager => _containerManager;

    /// <summary>The pods this agent runs, with their latest statuses.</summary>
    public IReadOnlyList<V1Pod> Pods => _workers.Pods;

    /// <summary>Manifests that could not be used, as the sources last reported them.</summary>
    public IReadOnlyList<PodSourceError> SourceErrors => _config.Errors;

    /// <summary>Raised after a pod's status changed (on a worker thread).</summary>
    public event Action<V1Pod>? StatusChanged;

    /// <summary>Runs until cancelled; then stops the pods only with <see cref="PodSyncAgentOptions.StopPodsOnExit"/>.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _running, 1) == 1) throw new InvalidOperationException("The pod sync agent is already running.");
        try
        {
            // The first pods' one-time work (JSON metadata, generic code) on the other core while the runtime is reached.
            var warmup = Task.Run(WarmUpPodPath, CancellationToken.None);
            await ConnectAsync(cancellationToken).ConfigureAwait(false);
            await warmup.ConfigureAwait(false);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var loops = _sources.Select(s => WatchSourceAsync(s, stop.Token)).ToList();
            loops.Add(_pleg.RunAsync(stop.Token));
            loops.Add(MonitorEvictionsAsync(stop.Token));
            loops.Add(CollectContainersAsync(stop.Token));
            loops.Add(CollectImagesAsync(stop.Token));
            if (_logRotation is not null) loops.Add(_logRotation.RunAsync(stop.Token));
            try
            {
                await Task.WhenAll(loops).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            using var shutdown = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await _workers.StopAsync(_options.StopPodsOnExit, shutdown.Token).ConfigureAwait(false);
            if (_options.StopPodsOnExit) _log.Info("stopped every pod (StopPodsOnExit).");
            Interlocked.Exchange(ref _running, 0);
        }
    }

    /// <summary>
    /// Reconciles once and waits until every desired pod has started all its containers, finished, or
    /// is stuck on an error (image, config, crash loop), or until <paramref name="timeout"/> passes.
    /// </summary>
    public async Task<PodSyncOnceResult> SyncOnceAsync(TimeSpan timeout, IProgress<string>? waiting = null, CancellationToken cancellationToken = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var run = RunAsync(stop.Token);
        var deadline = _options.Time.GetUtcNow() + timeout;
        var settled = false;
        try
        {
            while (!run.IsCompleted)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var desired = Desired;
                if (_config.AllSourcesSeen)
                {
                    var pods = _workers.Pods.Concat(_admission.Rejected).Where(p => desired.ContainsKey(p.Metadata.Uid)).ToList();
                    var pending = desired.Values.Where(d => pods.FirstOrDefault(p => p.Metadata.Uid == d.Metadata.Uid) is not { } p || !IsSettled(p)).Select(d => d.Name()).ToList();
                    if (pending.Count == 0)
                    {
                        settled = true;
                        break;
                    }
                    waiting?.Report($"waiting for {pending.Count} of {desired.Count} pods: {string.Join(", ", pending.Take(5))}{(pending.Count > 5 ? ", …" : "")}");
                }
                if (_options.Time.GetUtcNow() > deadline) break;
                await Task.WhenAny(run, Task.Delay(TimeSpan.FromMilliseconds(200), _options.Time, cancellationToken)).ConfigureAwait(false);
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await run.ConfigureAwait(false);
        }
        var wanted = Desired;
        var result = StatusStore.List().Where(p => wanted.ContainsKey(p.Metadata.Uid)).OrderBy(p => p.Name(), StringComparer.Ordinal).ToList();
        return new PodSyncOnceResult(result, _config.Errors, settled);
    }

    /// <summary>Started: every container running or terminated; or failed: a terminal phase or an error waiting reason.</summary>
    public static bool IsSettled(V1Pod pod)
    {
        var status = pod.Status;
        if (status?.Phase is "Succeeded" or "Failed") return true;
        var all = (status?.InitContainerStatuses ?? []).Concat(status?.ContainerStatuses ?? []).ToList();
        if (all.Any(s => s.State?.Waiting?.Reason is { } r && r is not ("ContainerCreating" or "PodInitializing"))) return true;
        return (status?.ContainerStatuses ?? []).Count == (pod.Spec.Containers?.Count ?? 0)
            && (status?.ContainerStatuses ?? []).All(s => s.State?.Running is not null || s.State?.Terminated is not null);
    }

    private IReadOnlyDictionary<string, V1Pod> Desired
    {
        get { lock (_lock) return _desired; }
    }

    /// <summary>Runs <see cref="PodPathWarmup"/>; a failure there is logged and costs nothing but the first pods' speed.</summary>
    private void WarmUpPodPath()
    {
        try
        {
            var (elapsed, compiled) = PodPathWarmup.Run(_options.NodeName, _statusGenerator);
            _log.Debug($"pod path warmed up in {elapsed.TotalMilliseconds:F0} ms ({compiled} methods compiled).");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _log.Warning($"pod path warm-up failed (the first pods start without it): {e.Message}");
        }
    }

    private async Task ConnectAsync(CancellationToken ct)
    {
        var backOff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), jitter: 0);
        while (true)
        {
            try
            {
                var version = await _runtime.VersionAsync(ct).ConfigureAwait(false);
                _statusGenerator.RuntimeName = version.RuntimeName;
                _security.SupplementalGroupsPolicySupported = (await _runtime.StatusAsync(ct).ConfigureAwait(false)).SupplementalGroupsPolicySupported;
                await StartContainerManagerAsync(ct).ConfigureAwait(false);
                _log.Info($"container runtime {version.RuntimeName} {version.RuntimeVersion} (CRI {version.RuntimeApiVersion}) at {_runtime.Endpoint}.");
                // Adoption: the first relist tells the workers what already runs.
                await _pleg.RelistAsync(ct).ConfigureAwait(false);
                _log.Info($"found {_pleg.PodUids.Count} pod(s) with kubelet labels in the runtime.");
                return;
            }
            catch (KubeletRuntimeException e)
            {
                var wait = backOff.Next();
                _log.Warning($"cannot reach the container runtime, retrying in {GoDuration.Format(wait)}: {e.Message}");
                await Task.Delay(wait, _options.Time, ct).ConfigureAwait(false);
            }
        }
    }

    private static string? FindHostIp()
    {
        try
        {
            return NetworkInterface.GetAllNetworkInterfaces()
                .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback
                    && !n.Name.StartsWith("kps", StringComparison.Ordinal) && !n.Name.StartsWith("cni", StringComparison.Ordinal) && !n.Name.StartsWith("veth", StringComparison.Ordinal))
                .SelectMany(n => n.GetIPProperties().UnicastAddresses)
                .Select(a => a.Address)
                .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !System.Net.IPAddress.IsLoopback(a))?.ToString();
        }
        catch (NetworkInformationException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _probes.DisposeAsync().ConfigureAwait(false);
        await _workers.DisposeAsync().ConfigureAwait(false);
        if (_ownedRuntime is not null) await _ownedRuntime.DisposeAsync().ConfigureAwait(false);
    }
}
