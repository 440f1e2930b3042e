using k8s;
using k8s.Models;
using KubeletPS.Core.Api;

namespace KubeletPS.Core.Pods;

/// <summary>
/// The API objects a pod's volumes and environment are filled from (kubelet's configmap and
/// secret managers). Null means the object does not exist.
/// </summary>
public interface IPodConfigObjects
{
    IReadOnlyDictionary<string, byte[]>? GetConfigMap(string ns, string name);
    IReadOnlyDictionary<string, byte[]>? GetSecret(string ns, string name);
}

/// <summary>Reads configmaps and secrets from the API server with the node's credentials, at each pod sync.</summary>
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
