using System.Globalization;
using k8s;
using k8s.Models;
using KubeletPS.Core.Api;
using KubeletPS.Core.Pods.Token;
using KubeletPS.Core.Pods.Volumes;

namespace KubeletPS.Core.Pods.Objects;

/// <summary>
/// The API objects a pod's volumes and environment are filled from (kubelet's configmap and
/// secret managers), and service account tokens for projected volumes. Null means the object
/// does not exist.
/// </summary>
public interface IPodConfigObjects
{
    IReadOnlyDictionary<string, byte[]>? GetConfigMap(string ns, string name);
    IReadOnlyDictionary<string, byte[]>? GetSecret(string ns, string name);

    /// <summary>A TokenRequest (serviceaccounts/token) for the pod's service account, bound to the pod.</summary>
    /// <exception cref="ContainerConfigException">The API server refused it (e.g. the service account does not exist) or could not be reached.</exception>
    ServiceAccountToken CreateServiceAccountToken(ServiceAccountTokenRequest request);

    /// <summary>The pod is desired (new or changed): the objects it references are kept for it (kubelet's RegisterPod).</summary>
    void RegisterPod(V1Pod pod) { }

    /// <summary>The pod is gone: objects no other pod references are dropped (kubelet's UnregisterPod).</summary>
    void UnregisterPod(string uid) { }
}

/// <summary>
/// Reads configmaps and secrets from the API server with the node's credentials, through kubelet's
/// TTL cache (configMapAndSecretChangeDetectionStrategy Cache): an object is fetched again when its
/// copy is older than the TTL — the node's <c>node.alpha.kubernetes.io/ttl</c> annotation (seconds),
/// else 1 min — so a pod syncing at every restart of a crash loop does not GET it each time. Pods
/// register the objects they reference; a newly registered reference reads the object afresh, and an
/// object no pod references any more is dropped. A missing object is not cached (it is asked for
/// again at the next read, so it is seen as soon as it is created); when the API server cannot be
/// reached, the last copy is served. Service account tokens are asked for with TokenRequest (the
/// Node authorizer lets a node do both for its own pods).
/// </summary>
public sealed class ApiPodConfigObjects(IKubernetes client, ApiIdentity identity, Func<V1Node?>? node = null, TimeProvider? time = null, IKubeletLog? log = null)
    : IPodConfigObjects
{
    /// <summary>Kubelet's default when the node has no TTL annotation.</summary>
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromMinutes(1);

    public const string TtlAnnotation = "node.alpha.kubernetes.io/ttl";

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly IKubeletLog _log = log ?? NullKubeletLog.Instance;
    private readonly object _lock = new();
    private readonly Dictionary<ObjectKey, Item> _items = [];
    private readonly Dictionary<string, HashSet<ObjectKey>> _pods = new(StringComparer.Ordinal);

    private readonly record struct ObjectKey(string Resource, string Namespace, string Name);

    /// <summary>One referenced object: how many pods reference it, and its last copy.</summary>
    private sealed class Item
    {
        public int References;
        public Copy? Copy;
        public readonly object Fetching = new();
    }

    private sealed record Copy(IReadOnlyDictionary<string, byte[]> Data, string? ResourceVersion, DateTimeOffset FetchedAt);

    /// <summary>Objects referenced by registered pods (cached or not yet read).</summary>
    public int Count
    {
        get { lock (_lock) return _items.Count; }
    }

    /// <summary>How long a copy is used: the node's TTL annotation, else <see cref="DefaultTtl"/>.</summary>
    public TimeSpan Ttl =>
        node?.Invoke()?.Metadata?.Annotations is { } annotations
        && annotations.TryGetValue(TtlAnnotation, out var value)
        && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(seconds)
            : DefaultTtl;

    public IReadOnlyDictionary<string, byte[]>? GetConfigMap(string ns, string name) => Get(new ObjectKey("configmaps", ns, name), async () =>
    {
        var map = await client.CoreV1.ReadNamespacedConfigMapAsync(name, ns).ConfigureAwait(false);
        var data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (key, value) in map.Data ?? new Dictionary<string, string>()) data[key] = System.Text.Encoding.UTF8.GetBytes(value);
        foreach (var (key, value) in map.BinaryData ?? new Dictionary<string, byte[]>()) data[key] = value;
        return (data, map.Metadata?.ResourceVersion);
    });

    public IReadOnlyDictionary<string, byte[]>? GetSecret(string ns, string name) => Get(new ObjectKey("secrets", ns, name), async () =>
    {
        var secret = await client.CoreV1.ReadNamespacedSecretAsync(name, ns).ConfigureAwait(false);
        return (new Dictionary<string, byte[]>(secret.Data ?? new Dictionary<string, byte[]>(), StringComparer.Ordinal), secret.Metadata?.ResourceVersion);
    });

    public ServiceAccountToken CreateServiceAccountToken(ServiceAccountTokenRequest request)
    {
        var body = new Authenticationv1TokenRequest
        {
            ApiVersion = "authentication.k8s.io/v1",
            Kind = "TokenRequest",
            Spec = new V1TokenRequestSpec
            {
                Audiences = request.Audiences.ToList(),
                ExpirationSeconds = request.ExpirationSeconds,
                BoundObjectRef = new V1BoundObjectReference { ApiVersion = "v1", Kind = "Pod", Name = request.PodName, Uid = request.PodUid },
            },
        };
        Authenticationv1TokenRequest issued;
        try
        {
            issued = ApiCall.RunAsync(identity, "create", "serviceaccounts/token", $"{request.Namespace}/{request.ServiceAccountName}",
                () => client.CoreV1.CreateNamespacedServiceAccountTokenAsync(body, request.ServiceAccountName, request.Namespace), CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (KubeletApiException e)
        {
            throw new ContainerConfigException(e.Message);
        }
        if (string.IsNullOrEmpty(issued.Status?.Token) || issued.Status.ExpirationTimestamp is not { } expires)
            throw new ContainerConfigException($"the API server's TokenRequest for serviceaccount {request.Namespace}/{request.ServiceAccountName} has no token or no expiration.");
        expires = expires.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(expires, DateTimeKind.Utc) : expires.ToUniversalTime();
        return new ServiceAccountToken(issued.Status.Token, new DateTimeOffset(expires), issued.Spec?.ExpirationSeconds ?? request.ExpirationSeconds);
    }

    public void RegisterPod(V1Pod pod)
    {
        var ns = pod.Namespace() ?? "default";
        var referenced = ReferencedObjects(pod).Select(r => new ObjectKey(r.Resource, ns, r.Name)).ToHashSet();
        lock (_lock)
        {
            var uid = pod.Metadata.Uid;
            if (_pods.TryGetValue(uid, out var previous) && previous.SetEquals(referenced)) return;
            foreach (var key in referenced)
            {
                if (!_items.TryGetValue(key, out var item)) _items[key] = item = new Item();
                item.References++;
                // As kubelet's AddReference: the next read fetches the object afresh.
                item.Copy = null;
            }
            if (previous is not null) Release(previous);
            _pods[uid] = referenced;
        }
    }

    public void UnregisterPod(string uid)
    {
        lock (_lock)
        {
            if (!_pods.Remove(uid, out var previous)) return;
            Release(previous);
        }
    }

    private void Release(IEnumerable<ObjectKey> keys)
    {
        foreach (var key in keys)
        {
            if (_items.TryGetValue(key, out var item) && --item.References <= 0) _items.Remove(key);
        }
    }

    /// <summary>The configmaps and secrets a pod references (kubelet's VisitPodConfigmapNames / VisitPodSecretNames).</summary>
    public static IEnumerable<(string Resource, string Name)> ReferencedObjects(V1Pod pod)
    {
        var spec = pod.Spec;
        foreach (var secret in spec?.ImagePullSecrets ?? []) if (!string.IsNullOrEmpty(secret.Name)) yield return ("secrets", secret.Name);
        foreach (var volume in spec?.Volumes ?? [])
        {
            if (volume.ConfigMap?.Name is { Length: > 0 } cm) yield return ("configmaps", cm);
            if (volume.Secret?.SecretName is { Length: > 0 } s) yield return ("secrets", s);
            foreach (var source in volume.Projected?.Sources ?? [])
            {
                if (source.ConfigMap?.Name is { Length: > 0 } pcm) yield return ("configmaps", pcm);
                if (source.Secret?.Name is { Length: > 0 } ps) yield return ("secrets", ps);
            }
        }
        var containers = (spec?.InitContainers ?? []).Concat(spec?.Containers ?? [])
            .Select(c => (c.Env, c.EnvFrom))
            .Concat((spec?.EphemeralContainers ?? []).Select(c => (c.Env, c.EnvFrom)));
        foreach (var (env, envFrom) in containers)
        {
            foreach (var from in envFrom ?? [])
            {
                if (from.ConfigMapRef?.Name is { Length: > 0 } cm) yield return ("configmaps", cm);
                if (from.SecretRef?.Name is { Length: > 0 } s) yield return ("secrets", s);
            }
            foreach (var variable in env ?? [])
            {
                if (variable.ValueFrom?.ConfigMapKeyRef?.Name is { Length: > 0 } cm) yield return ("configmaps", cm);
                if (variable.ValueFrom?.SecretKeyRef?.Name is { Length: > 0 } s) yield return ("secrets", s);
            }
        }
    }

    private IReadOnlyDictionary<string, byte[]>? Get(ObjectKey key, Func<Task<(Dictionary<string, byte[]> Data, string? ResourceVersion)>> read)
    {
        Item? item;
        lock (_lock) _items.TryGetValue(key, out item);
        // A read for no registered pod (nothing registers in standalone use) goes straight to the API server.
        if (item is null) return Fetch(key, read)?.Data;
        lock (item.Fetching)
        {
            var copy = item.Copy;
            if (copy is not null && _time.GetUtcNow() < copy.FetchedAt + Ttl) return copy.Data;
            (Dictionary<string, byte[]> Data, string? ResourceVersion)? fetched;
            try
            {
                fetched = Fetch(key, read);
            }
            catch (ContainerConfigException e) when (copy is not null)
            {
                _log.Warning($"{e.Message}; using the copy read at {copy.FetchedAt:HH:mm:ss}.");
                return copy.Data;
            }
            if (fetched is not { } f)
            {
                item.Copy = null;
                return null;
            }
            // A read that comes back older than the copy (another API server behind) does not replace it.
            if (copy is null || !IsOlder(f.ResourceVersion, copy.ResourceVersion))
                item.Copy = new Copy(f.Data, f.ResourceVersion, _time.GetUtcNow());
            return item.Copy?.Data ?? f.Data;
        }
    }

    private static bool IsOlder(string? version, string? than) =>
        long.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var a)
        && long.TryParse(than, NumberStyles.None, CultureInfo.InvariantCulture, out var b)
        && a < b;

    private (Dictionary<string, byte[]> Data, string? ResourceVersion)? Fetch(ObjectKey key, Func<Task<(Dictionary<string, byte[]> Data, string? ResourceVersion)>> read)
    {
        try
        {
            // Pod syncs run on worker threads without a synchronization context: blocking here is safe.
            return ApiCall.RunAsync(identity, "get", key.Resource, $"{key.Namespace}/{key.Name}", read, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (KubeletApiException e) when (e.IsNotFound)
        {
            return null;
        }
        catch (KubeletApiException e)
        {
            throw new ContainerConfigException($"cannot read {key.Resource} {key.Namespace}/{key.Name}: {e.Message}");
        }
    }
}
