using k8s;
using k8s.Models;
using KubeletPS.Core.Api;

namespace KubeletPS.Core.Pods;

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
}

/// <summary>
/// Reads configmaps and secrets from the API server with the node's credentials, at each pod
/// sync, and asks it for service account tokens (the Node authorizer lets a node do both for its pods).
/// </summary>
public sealed class ApiPodConfigObjects(IKubernetes client, ApiIdentity identity) : IPodConfigObjects
{
    public IReadOnlyDictionary<string, byte[]>? GetConfigMap(string ns, string name) => Read("configmaps", ns, name, async () =>
    {
        var map = await client.CoreV1.ReadNamespacedConfigMapAsync(name, ns).ConfigureAwait(false);
        var data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (key, value) in map.Data ?? new Dictionary<string, string>()) data[key] = System.Text.Encoding.UTF8.GetBytes(value);
        foreach (var (key, value) in map.BinaryData ?? new Dictionary<string, byte[]>()) data[key] = value;
        return data;
    });

    public IReadOnlyDictionary<string, byte[]>? GetSecret(string ns, string name) => Read("secrets", ns, name, async () =>
    {
        var secret = await client.CoreV1.ReadNamespacedSecretAsync(name, ns).ConfigureAwait(false);
        return new Dictionary<string, byte[]>(secret.Data ?? new Dictionary<string, byte[]>(), StringComparer.Ordinal);
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

    private IReadOnlyDictionary<string, byte[]>? Read(string resource, string ns, string name, Func<Task<Dictionary<string, byte[]>>> read)
    {
        try
        {
            // Pod syncs run on worker threads without a synchronization context: blocking here is safe.
            return ApiCall.RunAsync(identity, "get", resource, $"{ns}/{name}", read, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (KubeletApiException e) when (e.IsNotFound)
        {
            return null;
        }
        catch (KubeletApiException e)
        {
            throw new ContainerConfigException($"cannot read {resource} {ns}/{name}: {e.Message}");
        }
    }
}
