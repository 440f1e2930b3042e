using KubeletPS.Core.NodeValidation;
using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.Gc;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Agent;

// Kubelet's StartGarbageCollection: container GC every ContainerGcPeriod, image GC every ImageGcPeriod.
public sealed partial class PodSyncAgent
{
    /// <summary>The image garbage collector (also the eviction manager's IImageGarbageCollector).</summary>
    public ImageGcManager ImageGc { get; }

    /// <summary>The node-wide container garbage collector (also the eviction manager's IContainerGarbageCollector).</summary>
    public ContainerGc ContainerGc { get; }

    private async Task CollectContainersAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(_options.ContainerGcPeriod, _options.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                try
                {
                    var removals = await ContainerGc.GarbageCollectAsync(GcMode.Remove, ct).ConfigureAwait(false);
                    if (removals.Count > 0) _log.Debug($"container GC: {removals.Count(r => r.Removed)} removed, {removals.Count(r => r.Error is not null)} failed.");
                }
                catch (KubeletRuntimeException e)
                {
                    _log.Warning($"Container garbage collection failed: {e.Message}");
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task CollectImagesAsync(CancellationToken ct)
    {
        if (!_options.ImageGc.Enabled)
        {
            _log.Info("imageGCHighThresholdPercent is set 100: image GC is off.");
            return;
        }
        var previousFailed = false;
        try
        {
            await FindSandboxImageAsync(ct).ConfigureAwait(false);
            // The first detection dates the images the node already has (kubelet's image manager Start).
            try { await ImageGc.DetectImagesAsync(ct).ConfigureAwait(false); }
            catch (KubeletRuntimeException e) { _log.Warning($"image GC: cannot list images: {e.Message}"); }
            using var timer = new PeriodicTimer(_options.ImageGcPeriod, _options.Time);
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                string? error;
                try { error = (await ImageGc.GarbageCollectAsync(GcMode.Remove, ct).ConfigureAwait(false)).Error; }
                catch (KubeletRuntimeException e) { error = e.Message; }
                if (error is null)
                {
                    if (previousFailed) _log.Info("Image garbage collection succeeded");
                    previousFailed = false;
                    continue;
                }
                // As kubelet: a first failure may be stats not yet ready; a repeated one is an event on the node.
                if (previousFailed)
                {
                    _log.Warning($"Image garbage collection failed multiple times in a row: {error}");
                    _events.Event(EventReferences.ForNode(_options.NodeName), EventTypes.Warning, ImageGcManager.ImageGCFailed, error);
                }
                else _log.Warning($"Image garbage collection failed once. Stats initialization may not have completed yet: {error}");
                previousFailed = true;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task FindSandboxImageAsync(CancellationToken ct)
    {
        if (ImageGc.SandboxImage is not null) return;
        var report = await RuntimeConfigReport.ReadAsync(_runtime, ct).ConfigureAwait(false);
        ImageGc.SandboxImage = report.SandboxImage;
        if (report.SandboxImage is { } image) _log.Debug($"image GC keeps the runtime's sandbox image {image}.");
    }

    /// <summary>The container collector's view of the pods (kubelet's podStateProvider); also read by tests.</summary>
    internal IPodStateProvider PodStates => ContainerGc.Pods;

    /// <summary>Evicts a pod as the eviction manager does (its worker kills it and reports it Failed/Evicted); for tests.</summary>
    internal bool EvictPod(string uid, string message) => _workers.EvictPod(uid, EmptyDirLimits.Reason, message);

    /// <summary>
    /// Kubelet's pod workers as the container collector's podStateProvider: a pod with a worker by its worker's
    /// state (evicted and terminated: everything of it may go; terminated: its runtime objects may go), a pod
    /// without one once no source wants it. Nothing before every source has reported.
    /// </summary>
    private sealed class AgentPodStates(PodSyncAgent agent) : IPodStateProvider
    {
        public bool AllSourcesReady => agent._config.AllSourcesSeen;

        public bool ShouldPodContentBeRemoved(string podUid) =>
            AllSourcesReady && (agent._workers.ShouldPodContentBeRemoved(podUid) ?? !agent.Desired.ContainsKey(podUid));

        public bool ShouldPodRuntimeBeRemoved(string podUid) =>
            AllSourcesReady && (agent._workers.IsTerminated(podUid) ?? !agent.Desired.ContainsKey(podUid));
    }
}
