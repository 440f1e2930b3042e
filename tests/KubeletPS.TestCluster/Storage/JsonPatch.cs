using System.Text.Json.Nodes;

namespace KubeletPS.TestCluster.Storage;

/// <summary>RFC 6902 JSON patch (application/json-patch+json): add, remove, replace, move, copy and test.</summary>
public static class JsonPatch
{
    public static JsonNode Apply(JsonNode document, JsonArray operations)
    {
        var doc = document.DeepClone();
        foreach (var opNode in operations)
        {
            if (opNode is not JsonObject op) throw new InvalidOperationException("a JSON patch operation must be an object");
            var name = op["op"]?.GetValue<string>() ?? throw new InvalidOperationException("missing op");
            var path = op["path"]?.GetValue<string>() ?? throw new InvalidOperationException($"missing path in {name} operation");
            switch (name)
            {
                case "add": doc = Add(doc, path, Value(op)); break;
                case "remove": doc = Remove(doc, path, out _); break;
                case "replace":
                    doc = Remove(doc, path, out _);
                    doc = Add(doc, path, Value(op));
                    break;
                case "move":
                    doc = Remove(doc, From(op), out var moved);
                    doc = Add(doc, path, moved);
                    break;
                case "copy": doc = Add(doc, path, Get(doc, From(op))?.DeepClone()); break;
                case "test":
                    if (!JsonNode.DeepEquals(Get(doc, path), op["value"]))
                        throw new InvalidOperationException($"testing value {path} failed: test failed");
                    break;
                default: throw new InvalidOperationException($"Unexpected kind: {name}");
            }
        }
        return doc;
    }

    private static JsonNode? Value(JsonObject op) =>
        op.ContainsKey("value") ? op["value"]?.DeepClone() : throw new InvalidOperationException("missing value");

    private static string From(JsonObject op) => op["from"]?.GetValue<string>() ?? throw new InvalidOperationException("missing from");

    private static string[] Tokens(string pointer)
    {
        if (pointer.Length == 0) return [];
        if (!pointer.StartsWith('/')) throw new InvalidOperationException($"invalid JSON pointer: {pointer}");
        return pointer[1..].Split('/').Select(t => t.Replace("~1", "/").Replace("~0", "~")).ToArray();
    }

    private static JsonNode? Get(JsonNode doc, string pointer)
    {
        JsonNode? node = doc;
        foreach (var token in Tokens(pointer))
        {
            node = node switch
            {
                JsonObject o => o.TryGetPropertyValue(token, out var v) ? v : throw Missing(pointer),
                JsonArray a when int.TryParse(token, out var i) && i >= 0 && i < a.Count => a[i],
                _ => throw Missing(pointer),
            };
        }
        return node;
    }

    private static (JsonNode Parent, string Last) Parent(JsonNode doc, string pointer)
    {
        var tokens = Tokens(pointer);
        var parentPointer = string.Concat(tokens[..^1].Select(t => "/" + t.Replace("~", "~0").Replace("/", "~1")));
        return (Get(doc, parentPointer) ?? throw Missing(pointer), tokens[^1]);
    }

    private static JsonNode Add(JsonNode doc, string pointer, JsonNode? value)
    {
        if (pointer.Length == 0) return value ?? throw new InvalidOperationException("cannot replace the document with null");
        var (parent, last) = Parent(doc, pointer);
        switch (parent)
        {
            case JsonObject o: o[last] = value; break;
            case JsonArray a when last == "-": a.Add(value); break;
            case JsonArray a when int.TryParse(last, out var i) && i >= 0 && i <= a.Count: a.Insert(i, value); break;
            default: throw Missing(pointer);
        }
        return doc;
    }

    private static JsonNode Remove(JsonNode doc, string pointer, out JsonNode? removed)
    {
        var (parent, last) = Parent(doc, pointer);
        switch (parent)
        {
            case JsonObject o when o.ContainsKey(last):
                removed = o[last];
                o.Remove(last);
                break;
            case JsonArray a when int.TryParse(last, out var i) && i >= 0 && i < a.Count:
                removed = a[i];
                a.RemoveAt(i);
                break;
            default: throw Missing(pointer);
        }
        return doc;
    }

    private static InvalidOperationException Missing(string pointer) =>
        new($"doc is missing path: \"{pointer}\": missing value");
}
