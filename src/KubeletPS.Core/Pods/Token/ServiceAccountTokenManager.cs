using System.Globalization;
using KubeletPS.Core.Pods.Volumes;

namespace KubeletPS.Core.Pods.Token;

/// <summary>A TokenRequest for a pod's service account, bound to the pod (its spec half).</summary>
public sealed record ServiceAccountTokenRequest(
    string Namespace,
    string ServiceAccountName,
    IReadOnlyList<string> Audiences,
    long ExpirationSeconds,
    string PodName,
    string PodUid)
{
    /// <summary>Kubelet's cache key: everything but the token, so it is safe to log.</summary>
    public string Key => string.Create(CultureInfo.InvariantCulture,
        $"\"{ServiceAccountName}\"/\"{Namespace}\"/[{string.Join(",", Audiences.Select(a => $"\"{a}\""))}]/{ExpirationSeconds}/Pod \"{PodName}\" {PodUid}");

    public override string ToString() => Key;
}

/// <summary>A token the API server issued (TokenRequest status) and the lifetime it was issued for.</summary>
public sealed class ServiceAccountToken(string token, DateTimeOffset expirationTimestamp, long expirationSeconds)
{
    public string Token { get; } = token;
    public DateTimeOffset ExpirationTimestamp { get; } = expirationTimestamp;

    /// <summary>The lifetime the server granted (its spec.expirationSeconds, which may be shorter than asked).</summary>
    public long ExpirationSeconds { get; } = expirationSeconds;

    /// <summary>When it was issued: the expiration less its lifetime.</summary>
    public DateTimeOffset IssuedAt => ExpirationTimestamp.AddSeconds(-ExpirationSeconds);

    // Never the token itself: this may end up in a log line.
    public override string ToString() => $"service account token expiring {ExpirationTimestamp:O}";
}

/// <summary>
/// Kubelet's service account token manager (pkg/kubelet/token): caches the tokens of projected
/// serviceAccountToken volumes per (service account, namespace, audiences, expiration, bound pod)
/// and asks the API server for a new one when the cached one is older than 80% of its lifetime or
/// than 24 hours (less a jitter of up to 10 s, so pods do not refresh in step). A refresh that fails
/// keeps the old token until it expires. The tokens of a pod are dropped when the pod is removed,
/// and expired ones whenever the cache is used.
/// </summary>
public sealed class ServiceAccountTokenManager(
    Func<ServiceAccountTokenRequest, ServiceAccountToken> requestToken,
    TimeProvider? time = null,
    IKubeletLog? log = null)
{
    public static readonly TimeSpan MaxTtl = TimeSpan.FromHours(24);
    public static readonly TimeSpan MaxJitter = TimeSpan.FromSeconds(10);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly IKubeletLog _log = log ?? NullKubeletLog.Instance;
    private readonly object _lock = new();
    private readonly Dictionary<string, (ServiceAccountTokenRequest Request, ServiceAccountToken Token)> _cache = new(StringComparer.Ordinal);

    /// <summary>The refresh jitter; tests set it to zero.</summary>
    public Func<TimeSpan> Jitter { get; init; } = () => TimeSpan.FromSeconds(Math.Floor(Random.Shared.NextDouble() * MaxJitter.TotalSeconds));

    public int Count
    {
        get { lock (_lock) return _cache.Count; }
    }

    /// <summary>The cached token, or a new one from the API server when it needs a refresh.</summary>
    /// <exception cref="ContainerConfigException">No token could be had (none cached, or the cached one expired).</exception>
    public ServiceAccountToken GetServiceAccountToken(ServiceAccountTokenRequest request)
    {
        var key = request.Key;
        ServiceAccountToken? cached;
        lock (_lock)
        {
            RemoveExpired(except: key);
            cached = _cache.TryGetValue(key, out var entry) ? entry.Token : null;
        }
        if (cached is not null && !RequiresRefresh(cached)) return cached;

        ServiceAccountToken fresh;
        try
        {
            fresh = requestToken(request);
        }
        catch (ContainerConfigException e) when (cached is not null && !Expired(cached))
        {
            _log.Warning($"couldn't update token {key}: {e.Message}");
            return cached;
        }
        catch (ContainerConfigException e) when (cached is not null)
        {
            throw new ContainerConfigException($"token {key} expired and refresh failed: {e.Message}");
        }
        catch (ContainerConfigException e)
        {
            throw new ContainerConfigException($"failed to fetch token: {e.Message}");
        }
        lock (_lock) _cache[key] = (request, fresh);
        return fresh;
    }

    /// <summary>Drops every token bound to the pod (the pod was removed).</summary>
    public void DeleteServiceAccountTokens(string podUid)
    {
        lock (_lock)
        {
            foreach (var key in _cache.Where(p => p.Value.Request.PodUid == podUid).Select(p => p.Key).ToList()) _cache.Remove(key);
        }
    }

    /// <summary>Older than 24 h, or within 20% of its lifetime of the expiration (each less the jitter).</summary>
    public bool RequiresRefresh(ServiceAccountToken token)
    {
        var now = _time.GetUtcNow();
        var jitter = Jitter();
        if (now > token.IssuedAt + MaxTtl - jitter) return true;
        return now > token.ExpirationTimestamp - TimeSpan.FromSeconds(token.ExpirationSeconds * 20 / 100) - jitter;
    }

    private bool Expired(ServiceAccountToken token) => _time.GetUtcNow() > token.ExpirationTimestamp;

    /// <summary>Kubelet's periodic cleanup, done on use; the token asked for stays, to tell "expired" from "never had one".</summary>
    private void RemoveExpired(string except)
    {
        foreach (var key in _cache.Where(p => p.Key != except && Expired(p.Value.Token)).Select(p => p.Key).ToList()) _cache.Remove(key);
    }
}
