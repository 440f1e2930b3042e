using k8s.Models;
using KubeletPS.Core.Node;
using KubeletPS.Core.Pods.Config;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Pods.Manager;
using KubeletPS.Core.Pods.Objects;
using KubeletPS.Core.Pods.Pleg;
using KubeletPS.Core.Pods.Status;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Server;
using KubeletPS.Core.Server.Endpoints;
using KubeletPS.Core.Stats;

namespace KubeletPS.Core.Agent;

/// <summary>What the full agent adds to the node options: where pods log, and test knobs.</summary>
public sealed record KubeletAgentRequest
{
    public required NodeAgentRequest Node { get; init; }
    /// <summary>Overrides the config's podLogsDir (/var/log/pods).</summary>
    public string? PodLogDirectory { get; init; }
    /// <summary>Overrides the config's staticPodPath; an empty string runs no static pods.</summary>
    public string? StaticPodPath { get; init; }
    /// <summary>Stop every pod when the agent stops (kubelet leaves them running).</summary>
    public bool StopPodsOnExit { get; init; }
    public TimeProvider Time { get; init; } = TimeProvider.System;
    /// <summary>Overrides the config's port of the kubelet server; 0 picks a free port (tests).</summary>
    public int? ServerPort { get; init; }
    /// <summary>Overrides the config's healthzPort; -1 picks a free port (tests), 0 disables it.</summary>
    public int? HealthzPort { get; init; }
}

/// <summary>
/// The kubelet: the node half (registration, lease, node status — <see cref="NodeHeartbeat"/>) and
/// the pod half (<see cref="PodSyncAgent"/>: static pods and pods bound to this node in the API,
/// admitted against the node, run through CRI) joined by the status path back to the API server
/// (<see cref="PodStatusManager"/>, mirror pods for static pods). One object, run by
/// Start-KubeletAgent and by the service.
/// </summary>
public sealed class KubeletAgent : IAsyncDisposable
{
    private readonly NodeAgentContext _context;
    private readonly KubeletAgentRequest _request;
    private readonly IKubeletLog _log;
    private V1Node? _node;

    private KubeletAgent(NodeAgentContext context, KubeletAgentRequest request, IKubeletLog log)
    {
        _context = context;
        _request = request;
        _log = log;
        Stats = new CriStatsProvider(new CriStatsProviderOptions
        {
            NodeName = context.Options.NodeName,
            Runtime = context.Runtime,
            Images = context.Images,
            RootDirectory = context.Options.RootDirectory,
            Log = log,
        });
        // A bad threshold fails here, before the node registers, with the field's name.
        Eviction = new EvictionConfigHolder(EvictionConfig.FromConfiguration(context.Config.Configuration, context.Config.ConfigPath));
    }

    /// <summary>The eviction config until <see cref="RunAsync"/> builds the manager (it needs the event recorder made there).</summary>
    private sealed record EvictionConfigHolder(EvictionConfig Config);

    private EvictionConfigHolder Eviction { get; }

    /// <summary>The eviction manager, once <see cref="RunAsync"/> has built it.</summary>
    public EvictionManager? EvictionManager { get; private set; }

    public NodeAgentContext Context => _context;

    // What the pod engine observes for /metrics: made before the server, which is started before the pod engine.
    private readonly Metrics.KubeletMetricSet _metrics = new();

    /// <summary>The pod half, once <see cref="RunAsync"/> has built it.</summary>
    public PodSyncAgent? Pods { get; private set; }

    /// <summary>The node's and pods' stats, read by the kubelet server's /stats/summary and /metrics/resource.</summary>
    public CriStatsProvider Stats { get; }

    /// <summary>The kubelet server (port 10250), once <see cref="RunAsync"/> started it; null without one.</summary>
    public IKubeletServerHandle? Server { get; private set; }

    public static async Task<KubeletAgent> CreateAsync(KubeletAgentRequest request, IKubeletLog log, CancellationToken cancellationToken)
    {
        var context = await NodeAgentContext.CreateAsync(request.Node, log, cancellationToken).ConfigureAwait(false);
        return new KubeletAgent(context, request, log);
    }

    /// <summary>
    /// Registers the node (retrying until the API server answers), then runs lease, node status,
    /// pods and status reporting until cancelled. <paramref name="onRegistered"/> hears of the
    /// registration; <paramref name="onRetry"/> of each registration retry.
    /// </summary>
    public async Task RunAsync(Action<NodeRegistrationOutcome>? onRegistered, Action<int, string>? onRetry, CancellationToken cancellationToken)
    {
        _context.Config.WarnNotInEffect(_log);
        var options = _context.Options;
        // The server first: the Node advertises the port actually served in its daemonEndpoints.
        Server = await KubeletServerLauncher.StartAsync(_context.Config.Configuration.EnableServer != false, CreateServerContext, _log, cancellationToken).ConfigureAwait(false);
        if (Server is not null) options = options with { KubeletPort = Server.Port };
        // Ready also carries PLEG's health, once the pod half relists (kubelet's runtimeState health checks).
        var runtimeHealth = new PlegHealthRuntimeSource(_context.RuntimeHealth, () => Pods?.LastRelist, _request.Time);
        await using var events = new EventRecorder(_context.Client, _context.Identity, options.NodeName, _log);
        // Node-level reclaim (the pod half's garbage collectors) is attached once the pod half is built, below.
        var eviction = EvictionManager = new EvictionManager(Eviction.Config, new SummarySignalSource(Stats, _context.Images, options.RootDirectory) { MaxAge = CriStatsProvider.MaxSummaryAge }, _request.Time, _log)
        {
            Events = events,
            NodeName = options.NodeName,
            Metrics = _metrics,
        };
        var heartbeat = new NodeHeartbeat(_context.Client, _context.Identity, options, runtimeHealth, _request.Time, _log, eviction);
        heartbeat.OnRegistrationRetry = (attempt, _, reason) => onRetry?.Invoke(attempt, reason);
        heartbeat.Status.StatusReported += node => Volatile.Write(ref _node, node);
        var registered = await heartbeat.RegisterWithRetryAsync(cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _node, registered.Node);
        onRegistered?.Invoke(new NodeRegistrationOutcome(NodeSummary.From(registered.Node, null), registered.Created, registered.Changes));

        var client = _context.Client;
        var identity = _context.Identity;
        var mirrors = new MirrorPodManager(client, identity, options.NodeName, _log);
        var statusManager = new PodStatusManager(client, identity, _log, mirrors);
        var podOptions = PodSyncAgentOptions.FromConfiguration(_context.Config.Configuration, options.NodeName);
        var local = new LocalPodStatusSink(new LocalPodStatusStore(options.RootDirectory));
        var podManager = new PodManager();
        var sink = new KubeletStatusSink(local, statusManager, podManager);
        var apiSource = new AdmittingPodSource(new ApiPodSource(client, identity, options.NodeName, _log), () => Volatile.Read(ref _node), sink, _log, podManager)
        {
            Eviction = eviction,
        };
        Pods = new PodSyncAgent(podOptions with
        {
            StaticPodPath = _request.StaticPodPath ?? podOptions.StaticPodPath,
            RuntimeEndpoint = _context.Runtime.Endpoint,
            RootDirectory = options.RootDirectory,
            PodLogsDirectory = _request.PodLogDirectory ?? podOptions.PodLogsDirectory,
            NodeIp = options.NodeIp,
            StopPodsOnExit = _request.StopPodsOnExit,
            AdditionalSources = [apiSource],
            StatusSink = sink,
            Log = _log,
            Events = events,
            Eviction = eviction,
            ConfigObjects = new ApiPodConfigObjects(client, identity, () => Volatile.Read(ref _node), _request.Time, _log),
            NodeAllocatable = () => Volatile.Read(ref _node)?.Status?.Allocatable is { } allocatable
                ? new Dictionary<string, ResourceQuantity>(allocatable)
                : DownwardApi.MachineCapacity(),
            Time = _request.Time,
            Metrics = _metrics,
        });
        // Before evicting for a disk signal, the eviction manager removes dead containers and unused images.
        eviction.ContainerGc = Pods.ContainerGc;
        eviction.ImageGc = Pods.ImageGc;

        using var mirrorSignal = new SemaphoreSlim(0, 1);
        void SignalMirrors()
        {
            if (mirrorSignal.CurrentCount == 0)
            {
                try { mirrorSignal.Release(); } catch (SemaphoreFullException) { }
            }
        }
        apiSource.ApiPodsChanged += SignalMirrors;
        Pods.StatusChanged += pod => { if (MirrorPods.IsStaticPod(pod)) SignalMirrors(); };

        _log.Info($"node {options.NodeName} registered with {identity.Server}; running pods from " +
                  $"{(string.IsNullOrEmpty(Pods.Options.StaticPodPath) ? "" : $"{Pods.Options.StaticPodPath} and ")}the API server through {_context.Runtime.Endpoint}.");
        try
        {
            await Task.WhenAll(
                heartbeat.Lease.RunAsync(cancellationToken),
                heartbeat.Status.RunAsync(cancellationToken),
                statusManager.RunAsync(cancellationToken),
                Pods.RunAsync(cancellationToken),
                MirrorLoopAsync(mirrors, podManager, mirrorSignal, cancellationToken),
                Stats.RunCpuUsageSamplerAsync(CriStatsProvider.DefaultSamplePeriod, cancellationToken),
                _context.Certificates.RunAsync(cancellationToken)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            // What could not be sent yet gets one last chance; the API server keeps the rest until the next start.
            using var flush = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try { await statusManager.FlushAsync(flush.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is OperationCanceledException or KubeletException) { _log.Warning($"pod statuses not sent before exit: {e.Message}"); }
            if (Server is { } server)
            {
                Server = null;
                await server.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>What the kubelet server reads of this agent; the pod half is read through <see cref="Pods"/> once built.</summary>
    private KubeletServerContext CreateServerContext()
    {
        var configuration = _context.Config.Configuration;
        var options = _context.Options;
        var serverOptions = KubeletServerOptions.FromConfiguration(configuration, options.NodeName, options.RootDirectory,
            [System.Net.Dns.GetHostName(), options.NodeIp ?? ""]);
        serverOptions = serverOptions with
        {
            Port = _request.ServerPort ?? serverOptions.Port,
            HealthzPort = _request.HealthzPort ?? serverOptions.HealthzPort,
        };
        var syncFrequency = configuration.SyncFrequency > TimeSpan.Zero ? configuration.SyncFrequency : TimeSpan.FromMinutes(1);
        return new KubeletServerContext
        {
            Options = serverOptions,
            Log = _log,
            Time = _request.Time,
            Client = _context.Client,
            Identity = _context.Identity,
            // serverTLSBootstrap: the kubelet-serving certificate the certificate manager obtains and rotates.
            ServingCertificate = configuration.ServerTlsBootstrap ? new BootstrappedServingCertificate(() => _context.Certificates.Serving?.Current) : null,
            Pods = () => Pods?.Pods ?? [],
            Runtime = _context.Runtime,
            Stats = Stats,
            Configuration = configuration,
            // The pod engine's sync loop is driven by PLEG relists: both checks read the last one.
            Metrics = new KubeletMetrics(options.NodeName, () => Pods?.Pods ?? [], () => Pods?.RuntimeOperations, () => Pods?.LastRelist, _metrics),
            Health = KubeletHealthChecks.ForSyncLoop(() => Pods?.LastRelist, () => Pods?.LastRelist, syncFrequency, _request.Time),
        };
    }

    private async Task MirrorLoopAsync(MirrorPodManager mirrors, PodManager podManager, SemaphoreSlim signal, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await signal.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
                var staticPods = Pods!.Pods.Where(MirrorPods.IsStaticPod).ToList();
                var result = await mirrors.SyncAsync(staticPods, podManager.ApiPods, cancellationToken).ConfigureAwait(false);
                foreach (var error in result.Errors) _log.Warning($"mirror pods: {error}");
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (KubeletException e)
            {
                _log.Warning($"mirror pods: {e.Message}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Server is not null) await Server.DisposeAsync().ConfigureAwait(false);
        if (Pods is not null) await Pods.DisposeAsync().ConfigureAwait(false);
        await _context.DisposeAsync().ConfigureAwait(false);
    }
}
