using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KubeletPS.TestCluster.Storage;

internal static class JsonNodeExtensions
{
    /// <summary>A JSON number as long, whether the node was parsed or built from an int in code (GetValue&lt;long&gt; rejects the latter).</summary>
    public static long? AsInt64(this JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number
            ? long.Parse(v.ToJsonString(), NumberStyles.Integer, CultureInfo.InvariantCulture)
            : null;
}
