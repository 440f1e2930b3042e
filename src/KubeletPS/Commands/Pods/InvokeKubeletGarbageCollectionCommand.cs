using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.NodeValidation;
using KubeletPS.Core.Pods.Gc;
using KubeletPS.Core.Runtime;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// Invoke-KubeletGarbageCollection: one image GC pass and one container GC pass against the node's
/// container runtime, with the engine the agent runs every 5 and every 1 minutes. Without the agent's
/// pod sources it never removes a pod as a whole: only dead containers beyond one per pod container
/// and sandboxes that are neither ready, in use, nor a pod's newest. -WhatIf lists without removing.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "KubeletGarbageCollection", SupportsShouldProcess = true)]
[OutputType(typeof(KubeletGarbageCollectionItem))]
public sealed class InvokeKubeletGarbageCollectionCommand : KubeletRuntimeCmdlet
{
    /// <summary>Collect images (with -Containers: both; neither: both).</summary>
    [Parameter]
    public SwitchParameter Images { get; set; }

    /// <summary>Collect dead containers and sandboxes.</summary>
    [Parameter]
    public SwitchParameter Containers { get; set; }

    /// <summary>Overrides the configuration's imageGCHighThresholdPercent.</summary>
    [Parameter]
    [ValidateRange(0, 100)]
    public int? ImageGCHighThresholdPercent { get; set; }

    /// <summary>Overrides the configuration's imageGCLowThresholdPercent.</summary>
    [Parameter]
    [ValidateRange(0, 100)]
    public int? ImageGCLowThresholdPercent { get; set; }

    private protected override (string, string, string, string, string) RuntimeErrorIds =>
        (ErrorIds.InvokeKubeletGarbageCollectionRuntimeUnavailable, ErrorIds.InvokeKubeletGarbageCollectionRuntimeNotReady, ErrorIds.InvokeKubeletGarbageCollectionRuntimeError,
         ErrorIds.InvokeKubeletGarbageCollectionInvalidEndpoint, ErrorIds.InvokeKubeletGarbageCollectionInvalidConfig);

    protected override void ProcessRecord()
    {
        var both = !Images && !Containers;
        var policy = ImagePolicy();
        var imageMode = (both || Images) && ShouldProcess(Connection.Endpoint, "Remove unused images over the image GC threshold") ? GcMode.Remove : GcMode.DryRun;
        var containerMode = (both || Containers) && ShouldProcess(Connection.Endpoint, "Remove dead containers and sandboxes beyond kubelet's limits") ? GcMode.Remove : GcMode.DryRun;
        IReadOnlyList<GcRemoval> removals;
        string? shortfall = null;
        try
        {
            (removals, shortfall) = RunOnPipeline(async ct =>
            {
                await using var client = Connection.CreateClient();
                await client.EnsureReadyAsync(ct).ConfigureAwait(false);
                var all = new List<GcRemoval>();
                string? error = null;
                if (both || Containers)
                {
                    var gc = new ContainerGc(client, NoPodSources.Instance, new ContainerGcPolicy(), Log, TimeProvider.System);
                    all.AddRange(await gc.GarbageCollectAsync(containerMode, ct).ConfigureAwait(false));
                }
                if (both || Images)
                {
                    var sandboxImage = (await RuntimeConfigReport.ReadAsync(client, ct).ConfigureAwait(false)).SandboxImage;
                    var images = new ImageGcManager(client, client, policy, Log, TimeProvider.System) { SandboxImage = sandboxImage };
                    // A one-off pass cannot know when images arrived: they count as older than imageMinimumGCAge.
                    await images.DetectImagesAsync(ct, DateTimeOffset.UtcNow - policy.MinAge).ConfigureAwait(false);
                    var result = await images.GarbageCollectAsync(imageMode, ct).ConfigureAwait(false);
                    all.AddRange(result.Removals);
                    error = result.Error;
                    Log.Info($"image file system usage {result.UsagePercent?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}%, high threshold {policy.HighThresholdPercent}%, to free {result.AmountToFree} bytes.");
                }
                return ((IReadOnlyList<GcRemoval>)all, error);
            });
        }
        catch (KubeletRuntimeException e)
        {
            ThrowRuntimeError(e);
            return;
        }

        foreach (var removal in removals)
        {
            if (removal.Error is { } error)
                WriteError(new ErrorRecord(new InvalidOperationException($"Cannot remove {removal.Kind} {removal.Name} ({removal.Id}): {error}"),
                    ErrorIds.InvokeKubeletGarbageCollectionRemoveFailed, ErrorCategory.ResourceUnavailable, removal.Id));
            WriteObject(new KubeletGarbageCollectionItem(removal));
        }
        if (shortfall is not null && imageMode == GcMode.Remove) WriteWarning(shortfall);
    }

    private ImageGcPolicy ImagePolicy()
    {
        try
        {
            var configuration = ConfigPath is null
                ? KubeletConfigurationFile.Defaults()
                : RunOnPipeline(async ct => (await KubeletConfigurationFile.LoadAsync(ResolveLiteralPath(ConfigPath), null, ct).ConfigureAwait(false)).Configuration);
            var policy = new ImageGcPolicy
            {
                HighThresholdPercent = ImageGCHighThresholdPercent ?? configuration.ImageGCHighThresholdPercent ?? 85,
                LowThresholdPercent = ImageGCLowThresholdPercent ?? configuration.ImageGCLowThresholdPercent ?? 80,
                MinAge = configuration.ImageMinimumGCAge,
                MaxAge = configuration.ImageMaximumGCAge,
            };
            policy.Validate();
            return policy;
        }
        catch (KubeletConfigException e)
        {
            ThrowTerminatingError(EngineError(e, ErrorIds.InvokeKubeletGarbageCollectionInvalidConfig, e.Path));
            throw;
        }
        catch (KubeletException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, ErrorIds.InvokeKubeletGarbageCollectionInvalidPolicy, ErrorCategory.InvalidArgument, e.Target));
            throw;
        }
    }

    /// <summary>No pod sources: no pod counts as gone, so nothing is removed as a whole pod.</summary>
    private sealed class NoPodSources : IPodStateProvider
    {
        public static readonly NoPodSources Instance = new();
        public bool AllSourcesReady => false;
        public bool ShouldPodContentBeRemoved(string podUid) => false;
        public bool ShouldPodRuntimeBeRemoved(string podUid) => false;
    }
}
