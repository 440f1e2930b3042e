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

    /// <summary>
    /// An API object read from JSON the agent did not just receive through its API client (its own files on disk), with
    /// quantities brought within bounds first as the client's handler brings them (<see cref="QuantityExponents"/>), so a
    /// damaged or hand-edited file cannot hang the reader. Throws <see cref="System.Text.Json.JsonException"/> for text that
    /// is not such an object, and <see cref="FormatException"/> for a quantity that is not one.
    /// </summary>
    public static T FromJson<T>(string json) where T : class
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(json, documentOptions: new System.Text.Json.JsonDocumentOptions { MaxDepth = 64 });
        QuantityExponents.Clamp(node, typeof(T));
        try
        {
            return KubernetesJson.Deserialize<T>(node?.ToJsonString() ?? "null")
                ?? throw new System.Text.Json.JsonException($"the JSON is null, not a {typeof(T).Name}.");
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or OverflowException)
        {
            throw new FormatException(e.Message, e);
        }
    }
}
