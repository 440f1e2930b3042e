using System.Diagnostics;
using k8s.Models;
using KubeletPS.Core.Pods.Config;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.Workers;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.Images;

/// <summary>An image could not be made present; <see cref="Reason"/> is kubelet's waiting reason.</summary>
public sealed class ImagePullException(string reason, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>ErrImageNeverPull, ErrImagePull or ImagePullBackOff.</summary>
    public string Reason { get; } = reason;
}

public enum ImagePullPhase { Started, Completed, Failed }

/// <summary>Progress of one image pull (CRI PullImage reports no bytes, so start and end only).</summary>
public sealed record ImagePullProgress(string PodName, string ContainerName, string Image, ImagePullPhase Phase, TimeSpan Elapsed, string? Error = null);

/// <summary>
/// Kubelet's image manager: honours imagePullPolicy (Never: the image must be present, else
/// ErrImageNeverPull; IfNotPresent: pull only when absent; Always: pull every time a container
/// starts, and fail with ErrImagePull when the pull fails, as kubelet does even if an old copy is
/// present), and backs off failed pulls per pod and image (ImagePullBackOff, 10 s doubling to 5 min).
/// </summary>
public sealed class ImageManager(IImageService runtime, IKubeletLog log, IProgress<ImagePullProgress>? progress = null, TimeProvider? time = null)
{
    private readonly CrashLoopBackOff _backOff = new(time);
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Makes the container's image present; returns the image id to create the container with.</summary>
    public async Task<string> EnsureImageAsync(V1Pod pod, V1Container container, PodSandboxSpec sandbox, CancellationToken cancellationToken, Action? beforePull = null)
        => (await EnsureImageStatusAsync(pod, container, sandbox, cancellationToken, beforePull).ConfigureAwait(false)).Id;

    /// <summary>
    /// Makes the container's image present; returns the image id to create the container with and the image's status
    /// (its user, for runAsNonRoot), null only when the runtime did not report it after a pull.
    /// </summary>
    public async Task<(string Id, ImageInfo? Image)> EnsureImageStatusAsync(V1Pod pod, V1Container container, PodSandboxSpec sandbox, CancellationToken cancellationToken, Action? beforePull = null)
    {
        var image = container.Image;
        var policy = container.ImagePullPolicy ?? PodDefaults.DefaultPullPolicy(image);
        var present = await runtime.ImageStatusAsync(image, cancellationToken).ConfigureAwait(false);
        if (policy == "Never" || (policy == "IfNotPresent" && present is not null))
        {
            if (present is null)
            {
                // kubelet's image manager records this on the container before failing (events.ErrImageNeverPullPolicy).
                var message = $"Container image \"{image}\" is not present with pull policy of Never";
                Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Warning, EventReasons.ErrImageNeverPull, message);
                throw new ImagePullException(EventReasons.ErrImageNeverPull, message);
            }
            Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Normal, EventReasons.Pulled, $"Container image \"{image}\" already present on machine");
            return (present.Id, present);
        }

        var key = $"pull_{pod.Metadata.Uid}_{image}";
        if (_backOff.IsInBackOffSince(key, _time.GetUtcNow(), out _, out _))
            throw new ImagePullException("ImagePullBackOff", $"Back-off pulling image \"{image}\"");

        beforePull?.Invoke();
        var watch = Stopwatch.StartNew();
        log.Info($"pod {pod.Name()} container {container.Name}: pulling image \"{image}\" (imagePullPolicy {policy}).");
        Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Normal, EventReasons.Pulling, $"Pulling image \"{image}\"");
        progress?.Report(new ImagePullProgress(pod.Name(), container.Name, image, ImagePullPhase.Started, TimeSpan.Zero));
        try
        {
            await runtime.PullImageAsync(image, sandbox, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeletRuntimeException e) when (e.Kind is not (RuntimeErrorKind.EndpointMissing or RuntimeErrorKind.ConnectionFailed))
        {
            _backOff.Next(key, _time.GetUtcNow());
            progress?.Report(new ImagePullProgress(pod.Name(), container.Name, image, ImagePullPhase.Failed, watch.Elapsed, e.Message));
            throw new ImagePullException("ErrImagePull", $"Failed to pull image \"{image}\": {e.Message}", e);
        }
        _backOff.Reset(key);
        progress?.Report(new ImagePullProgress(pod.Name(), container.Name, image, ImagePullPhase.Completed, watch.Elapsed));
        log.Info($"pod {pod.Name()} container {container.Name}: pulled image \"{image}\" in {watch.Elapsed.TotalSeconds:0.###}s.");
        Events.Event(EventReferences.ForPod(pod, container.Name), EventTypes.Normal, EventReasons.Pulled, $"Successfully pulled image \"{image}\" in {watch.Elapsed.TotalSeconds:0.###}s");
        var pulled = await runtime.ImageStatusAsync(image, cancellationToken).ConfigureAwait(false);
        return (pulled?.Id ?? image, pulled);
    }

    public void ForgetPod(string uid) => _backOff.ForgetPod(uid);

    /// <summary>Where the Pulling and Pulled events go; nowhere in standalone mode.</summary>
    public IEventRecorder Events { get; set; } = NullEventRecorder.Instance;
}
