using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.Images;

/// <summary>What one pull gave: the image reference, the image's size (CRI ImageStatus; 0 when not reported) and how long the pull itself took, without the wait for a turn.</summary>
public sealed record ImagePullResult(string ImageRef, ulong Size, TimeSpan PullDuration);

/// <summary>
/// How image pulls are scheduled node-wide, as kubelet's pkg/kubelet/images/puller.go and throttle.go:
/// serializeImagePulls (one pull at a time), else at most maxParallelImagePulls (unlimited when null),
/// and every CRI PullImage takes a token from the registryPullQPS/registryBurst bucket — without a
/// token the pull fails at once with kubelet's "pull QPS exceeded" (qps 0: no limit).
/// Each pull tries the keyring's credentials in order (kuberuntime_image.go PullImage), anonymously when there are none.
/// </summary>
public sealed class ImagePuller
{
    private readonly IImageService _images;
    private readonly SemaphoreSlim? _turns;
    private readonly TokenBucket? _bucket;
    private readonly TimeProvider _time;

    public ImagePuller(IImageService images, bool serialize = false, int? maxParallelImagePulls = null, double registryPullQps = 0, int registryBurst = 0, TimeProvider? time = null)
    {
        _images = images;
        _time = time ?? TimeProvider.System;
        var limit = serialize ? 1 : maxParallelImagePulls is >= 1 ? maxParallelImagePulls.Value : 0;
        _turns = limit > 0 ? new SemaphoreSlim(limit, limit) : null;
        _bucket = registryPullQps > 0 ? new TokenBucket(registryPullQps, Math.Max(registryBurst, 1), _time) : null;
        MaxParallel = limit;
    }

    /// <summary>How many pulls may run at once (0: no limit).</summary>
    public int MaxParallel { get; }

    /// <summary>Pulls <paramref name="image"/>, waiting for a turn first; throws the runtime's error (all of them, one per credential tried).</summary>
    public async Task<ImagePullResult> PullAsync(string image, IReadOnlyList<RegistryAuth> credentials, PodSandboxSpec? sandbox, CancellationToken cancellationToken)
    {
        if (_turns is not null) await _turns.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var started = _time.GetTimestamp();
            var imageRef = await PullWithCredentialsAsync(image, credentials, sandbox, cancellationToken).ConfigureAwait(false);
            ulong size = 0;
            if (imageRef.Length > 0)
            {
                // Best effort, as kubelet's GetImageSize.
                try
                {
                    size = (await _images.ImageStatusAsync(image, cancellationToken).ConfigureAwait(false))?.Size ?? 0;
                }
                catch (KubeletRuntimeException)
                {
                }
            }
            return new ImagePullResult(imageRef, size, _time.GetElapsedTime(started));
        }
        finally
        {
            _turns?.Release();
        }
    }

    private async Task<string> PullWithCredentialsAsync(string image, IReadOnlyList<RegistryAuth> credentials, PodSandboxSpec? sandbox, CancellationToken cancellationToken)
    {
        if (credentials.Count == 0) return await ThrottledPullAsync(image, null, sandbox, cancellationToken).ConfigureAwait(false);
        var errors = new List<KubeletRuntimeException>();
        foreach (var auth in credentials)
        {
            try
            {
                return await ThrottledPullAsync(image, auth, sandbox, cancellationToken).ConfigureAwait(false);
            }
            catch (KubeletRuntimeException e) when (e.Kind is not (RuntimeErrorKind.EndpointMissing or RuntimeErrorKind.ConnectionFailed))
            {
                errors.Add(e);
            }
        }
        if (errors.Count == 1) throw errors[0];
        // utilerrors.NewAggregate's message: "[first, second]".
        throw new KubeletRuntimeException(errors[0].Endpoint, "PullImage", errors[^1].Kind, "[" + string.Join(", ", errors.Select(e => e.Message)) + "]", errors[^1].RpcStatus, errors[^1]);
    }

    private Task<string> ThrottledPullAsync(string image, RegistryAuth? auth, PodSandboxSpec? sandbox, CancellationToken cancellationToken)
    {
        if (_bucket is not null && !_bucket.TryAccept())
            throw new KubeletRuntimeException("", "PullImage", RuntimeErrorKind.RuntimeError, "pull QPS exceeded");
        return _images.PullImageAsync(image, auth, sandbox, cancellationToken);
    }

    /// <summary>client-go's token bucket rate limiter (flowcontrol.NewTokenBucketRateLimiter): starts full with <c>burst</c> tokens, refilled at <c>qps</c> per second.</summary>
    private sealed class TokenBucket(double qps, int burst, TimeProvider time)
    {
        private readonly object _lock = new();
        private double _tokens = burst;
        private long _last = time.GetTimestamp();

        public bool TryAccept()
        {
            lock (_lock)
            {
                var now = time.GetTimestamp();
                _tokens = Math.Min(burst, _tokens + (time.GetElapsedTime(_last, now).TotalSeconds * qps));
                _last = now;
                if (_tokens < 1) return false;
                _tokens -= 1;
                return true;
            }
        }
    }
}
