using k8s.Models;
using KubeletPS.Core.Configuration;
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
/// Kubelet's image manager (pkg/kubelet/images/image_manager.go): honours imagePullPolicy (Never: the image
/// must be present, else ErrImageNeverPull; IfNotPresent: pull only when absent; Always: pull every time a
/// container starts, and fail with ErrImagePull when the pull fails, as kubelet does even if an old copy is
/// present), pulls through the node's <see cref="ImagePuller"/> with the pod's <see cref="ImagePullCredentials"/>,
/// and backs off failed pulls per pod and image (ImagePullBackOff, 10 s doubling to 5 min, carrying the last
/// pull error). Events and messages are kubelet's: Pulling, Pulled (with the pull time, the time including the
/// wait for a turn, and the image size), Failed, BackOff.
/// </summary>
public sealed class ImageManager(IImageService runtime, IKubeletLog log, IProgress<ImagePullProgress>? progress = null, TimeProvider? time = null,
    ImagePuller? puller = null, ImagePullCredentials? credentials = null)
{
    public const string ErrImagePull = "ErrImagePull";
    public const string ImagePullBackOff = "ImagePullBackOff";
    public const string ErrImageNeverPull = "ErrImageNeverPull";

    private readonly CrashLoopBackOff _backOff = new(time);
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ImagePuller _puller = puller ?? new ImagePuller(runtime, time: time);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _lastPullError = new(StringComparer.Ordinal);

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
        var reference = EventReferences.ForPod(pod, container.Name);
        var policy = container.ImagePullPolicy ?? PodDefaults.DefaultPullPolicy(image);
        var present = await runtime.ImageStatusAsync(image, cancellationToken).ConfigureAwait(false);
        if (policy == "Never" || (policy == "IfNotPresent" && present is not null))
        {
            if (present is null)
            {
                var never = $"Container image \"{image}\" is not present with pull policy of Never";
                Events.Event(reference, EventTypes.Warning, ErrImageNeverPull, never);
                throw new ImagePullException(ErrImageNeverPull, never);
            }
            Events.Event(reference, EventTypes.Normal, EventReasons.Pulled, $"Container image \"{image}\" already present on machine");
            return (present.Id, present);
        }

        var key = $"pull_{pod.Metadata.Uid}_{image}";
        if (_backOff.IsInBackOffSince(key, _time.GetUtcNow(), out _, out _))
        {
            var backOff = $"Back-off pulling image \"{image}\"";
            Events.Event(reference, EventTypes.Normal, EventReasons.BackOff, backOff);
            throw new ImagePullException(ImagePullBackOff, _lastPullError.TryGetValue(key, out var last) ? $"{backOff}: {last}" : backOff);
        }

        beforePull?.Invoke();
        var started = _time.GetTimestamp();
        log.Info($"pod {pod.Name()} container {container.Name}: pulling image \"{image}\" (imagePullPolicy {policy}).");
        Events.Event(reference, EventTypes.Normal, EventReasons.Pulling, $"Pulling image \"{image}\"");
        progress?.Report(new ImagePullProgress(pod.Name(), container.Name, image, ImagePullPhase.Started, TimeSpan.Zero));
        ImagePullResult pulled;
        try
        {
            var auths = credentials?.For(pod, image) ?? [];
            pulled = await _puller.PullAsync(image, auths, sandbox, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DockerConfigException
            || (e is KubeletRuntimeException r && r.Kind is not (RuntimeErrorKind.EndpointMissing or RuntimeErrorKind.ConnectionFailed)))
        {
            var message = $"Failed to pull image \"{image}\": {e.Message}";
            log.Warning($"pod {pod.Name()} container {container.Name}: {message}");
            Events.Event(reference, EventTypes.Warning, EventReasons.Failed, message);
            _backOff.Next(key, _time.GetUtcNow());
            _lastPullError[key] = $"{ErrImagePull}: {message}";
            progress?.Report(new ImagePullProgress(pod.Name(), container.Name, image, ImagePullPhase.Failed, _time.GetElapsedTime(started), e.Message));
            throw new ImagePullException(ErrImagePull, message, e);
        }
        _backOff.Reset(key);
        _lastPullError.TryRemove(key, out _);
        var total = _time.GetElapsedTime(started);
        progress?.Report(new ImagePullProgress(pod.Name(), container.Name, image, ImagePullPhase.Completed, total));
        var done = $"Successfully pulled image \"{image}\" in {GoDuration.Format(Truncate(pulled.PullDuration))} ({GoDuration.Format(Truncate(total))} including waiting). Image size: {pulled.Size} bytes.";
        log.Info($"pod {pod.Name()} container {container.Name}: {done}");
        Events.Event(reference, EventTypes.Normal, EventReasons.Pulled, done);
        var status = await runtime.ImageStatusAsync(image, cancellationToken).ConfigureAwait(false);
        return (status?.Id ?? (pulled.ImageRef.Length > 0 ? pulled.ImageRef : image), status);
    }

    private static TimeSpan Truncate(TimeSpan value) => TimeSpan.FromTicks(value.Ticks - (value.Ticks % TimeSpan.TicksPerMillisecond));

    public void ForgetPod(string uid)
    {
        _backOff.ForgetPod(uid);
        foreach (var key in _lastPullError.Keys.Where(k => k.StartsWith($"pull_{uid}_", StringComparison.Ordinal))) _lastPullError.TryRemove(key, out _);
    }

    /// <summary>Where the Pulling and Pulled events go; nowhere in standalone mode.</summary>
    public IEventRecorder Events { get; set; } = NullEventRecorder.Instance;
}
