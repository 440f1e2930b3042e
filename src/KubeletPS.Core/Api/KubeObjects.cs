using k8s;

namespace KubeletPS.Core.Api;

/// <summary>Helpers over the API's model objects (k8s.Models), which have no DeepCopy of their own.</summary>
public static class KubeObjects
{
    /// <summary>
    /// An independent copy of an API object, as DeepCopy() in Go: a round trip through the API's
    /// JSON form, so the copy holds exactly what would be sent to or read from the API server.
    /// </summary>
    public static T DeepCopy<T>(T value) where T : class =>
        KubernetesJson.Deserialize<T>(KubernetesJson.Serialize(value));
}
