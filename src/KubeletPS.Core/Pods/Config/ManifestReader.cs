using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using KubeletPS.Core.Configuration.Yaml;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KubeletPS.Core.Pods.Config;

/// <summary>A problem with one field of a manifest, with the line it is on.</summary>
public sealed record ManifestProblem(string Field, int Line, int Column, string Message);

/// <summary>An object read from a manifest, with the YAML it came from for finding a field's line.</summary>
public sealed class ManifestDocument<T>(T value, IReadOnlyList<ManifestProblem> unknownFields, YamlNode root)
{
    public T Object => value;

    public IReadOnlyList<ManifestProblem> UnknownFields => unknownFields;

    /// <summary>The line and column of a field path (see <see cref="ManifestReader.Locate"/>).</summary>
    public (int Line, int Column) Locate(string fieldPath) => ManifestReader.Locate(root, fieldPath);
}

/// <summary>
/// Reads Kubernetes objects from YAML or JSON the way the API machinery does (YAML → JSON →
/// typed object), keeping line numbers so that errors and unknown fields point at the file's
/// line. Fields the typed model does not know are reported, never silently dropped.
/// </summary>
public static class ManifestReader
{
    public static (T Object, IReadOnlyList<ManifestProblem> UnknownFields) Read<T>(string text, string path)
    {
        var document = ReadDocument<T>(text, path);
        return (document.Object, document.UnknownFields);
    }

    /// <summary>Reads one object, keeping its YAML tree so that a field path's line can be found afterwards.</summary>
    /// <param name="normalize">Applied to the object as read, before it is serialized again to find unknown fields.</param>
    public static ManifestDocument<T> ReadDocument<T>(string text, string path, Action<T>? normalize = null)
    {
        YamlStream stream;
        try
        {
            stream = BoundedYaml.Load(text, path, YamlBounds.Manifest);
        }
        catch (YamlException e)
        {
            throw new KubeletConfigException($"invalid YAML: {e.InnerException?.Message ?? e.Message}", path, (int)e.Start.Line, (int)e.Start.Column, inner: e);
        }
        var documents = stream.Documents.Where(d => d.RootNode is not YamlScalarNode { Value: null or "" }).ToList();
        if (documents.Count == 0) throw new KubeletConfigException("the file is empty.", path);
        if (documents.Count > 1) throw new KubeletConfigException($"the file holds {documents.Count} YAML documents; one object per file is expected.", path, (int)documents[1].RootNode.Start.Line);
        var root = documents[0].RootNode;
        if (root is not YamlMappingNode) throw new KubeletConfigException("the document is not a mapping (an object with fields).", path, (int)root.Start.Line, (int)root.Start.Column);

        var json = ToJson(root)!;
        Api.QuantityExponents.Clamp(json, typeof(T));
        T value;
        try
        {
            value = KubernetesJson.Deserialize<T>(json.ToJsonString());
        }
        catch (JsonException e)
        {
            var field = e.Path ?? "";
            var (line, column) = Locate(root, field);
            throw new KubeletConfigException($"field {TrimJsonPath(field)}: {FirstSentence(e.Message)}", path, line, column, TrimJsonPath(field), inner: e);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or ArgumentException)
        {
            throw new KubeletConfigException($"cannot read the object: {e.Message}", path, inner: e);
        }
        normalize?.Invoke(value);
        var known = JsonNode.Parse(KubernetesJson.Serialize(value));
        var unknown = new List<ManifestProblem>();
        FindUnknown(root, known, "", unknown);
        return new ManifestDocument<T>(value, unknown, root);
    }

    /// <summary>YAML → JSON as sigs.k8s.io/yaml does: plain scalars become numbers, booleans or null.</summary>
    public static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c =>
            new KeyValuePair<string, JsonNode?>(((YamlScalarNode)c.Key).Value ?? "", ToJson(c.Value)))),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(ToJson).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => null,
    };

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded)
            return JsonValue.Create(text);
        switch (text)
        {
            case "" or "~" or "null" or "Null" or "NULL": return null;
            case "true" or "True" or "TRUE": return JsonValue.Create(true);
            case "false" or "False" or "FALSE": return JsonValue.Create(false);
        }
        if (YamlInteger(text) is { } l) return JsonValue.Create(l);
        if (text.Length > 0 && (char.IsDigit(text[0]) || text[0] is '-' or '+' or '.')
            && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && !text.EndsWith('.'))
            return JsonValue.Create(d);
        return JsonValue.Create(text);
    }

    /// <summary>
    /// A plain scalar as go-yaml v2 (YAML 1.1, what sigs.k8s.io/yaml and so kubelet use) reads an
    /// integer: strconv.ParseInt with base 0 after underscores are dropped, so <c>0600</c> is octal
    /// (384: a file mode as written in manifests), <c>0x1F</c> hex, <c>0o17</c> and <c>0b101</c>.
    /// </summary>
    internal static long? YamlInteger(string text)
    {
        var plain = text.Replace("_", "", StringComparison.Ordinal);
        var negative = plain.StartsWith('-');
        var digits = plain.TrimStart('-', '+');
        if (digits.Length == 0 || plain.Length - digits.Length > 1) return null;
        var (radix, body) = digits switch
        {
            ['0', 'x' or 'X', .. var rest] => (16, rest),
            ['0', 'o' or 'O', .. var rest] => (8, rest),
            ['0', 'b' or 'B', .. var rest] => (2, rest),
            ['0', _, ..] => (8, digits[1..]),
            _ => (10, digits),
        };
        if (body.Length == 0) return null;
        long value = 0;
        foreach (var c in body)
        {
            var digit = c switch { >= '0' and <= '9' => c - '0', >= 'a' and <= 'f' => c - 'a' + 10, >= 'A' and <= 'F' => c - 'A' + 10, _ => 99 };
            if (digit >= radix) return null;
            try { value = checked(value * radix + digit); }
            catch (OverflowException) { return null; }
        }
        return negative ? -value : value;
    }

    private static void FindUnknown(YamlNode yaml, JsonNode? known, string path, List<ManifestProblem> unknown)
    {
        switch (yaml)
        {
            case YamlMappingNode map when known is JsonObject obj:
                foreach (var (keyNode, child) in map.Children)
                {
                    var key = ((YamlScalarNode)keyNode).Value ?? "";
                    var childPath = path.Length == 0 ? key : $"{path}.{key}";
                    if (!obj.ContainsKey(key))
                    {
                        // A null or empty value is dropped by serialization, not unknown.
                        if (child is YamlScalarNode s && Scalar(s) is null) continue;
                        if (child is YamlMappingNode { Children.Count: 0 } or YamlSequenceNode { Children.Count: 0 }) continue;
                        unknown.Add(new ManifestProblem(childPath, (int)keyNode.Start.Line, (int)keyNode.Start.Column, $"unknown field \"{childPath}\""));
                        continue;
                    }
                    FindUnknown(child, obj[key], childPath, unknown);
                }
                break;
            case YamlSequenceNode seq when known is JsonArray array:
                for (var i = 0; i < seq.Children.Count && i < array.Count; i++)
                    FindUnknown(seq.Children[i], array[i], $"{path}[{i}]", unknown);
                break;
        }
    }

    /// <summary>
    /// The line and column of a field path in the YAML tree: "spec.containers[0].ports[1].hostPort",
    /// a map key in brackets ("metadata.labels[app.kubernetes.io/name]"), or a System.Text.Json path
    /// ("$.spec.containers[0].name"). A path that goes further than the document gives its deepest part there.
    /// </summary>
    public static (int Line, int Column) Locate(YamlNode root, string fieldPath)
    {
        YamlNode current = root;
        var best = (Line: (int)root.Start.Line, Column: (int)root.Start.Column);
        foreach (var (name, key) in Segments(TrimJsonPath(fieldPath)))
        {
            // [N] indexes a sequence; .name, and [key] of a map, look a key up in a mapping.
            if (name is null && current is YamlSequenceNode seq)
            {
                if (!int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var index) || index >= seq.Children.Count) break;
                current = seq.Children[index];
                best = ((int)current.Start.Line, (int)current.Start.Column);
                continue;
            }
            if (current is not YamlMappingNode map) break;
            var wanted = name ?? key;
            var entry = map.Children.FirstOrDefault(c => c.Key is YamlScalarNode k && k.Value == wanted);
            if (entry.Key is null) break;
            best = ((int)entry.Key.Start.Line, (int)entry.Key.Start.Column);
            current = entry.Value;
        }
        return best;
    }

    /// <summary>Splits "a.b[0][key].c" into (a), (b), [0], [key], (c); a bracket holds anything up to its "]".</summary>
    private static IEnumerable<(string? Name, string? Key)> Segments(string path)
    {
        var i = 0;
        while (i < path.Length)
        {
            if (path[i] == '.') { i++; continue; }
            if (path[i] == '[')
            {
                var close = path.IndexOf(']', i + 1);
                if (close < 0) yield break;
                yield return (null, path[(i + 1)..close].Trim('\'', '"'));
                i = close + 1;
                continue;
            }
            var end = path.IndexOfAny(['.', '['], i);
            if (end < 0) end = path.Length;
            yield return (path[i..end], null);
            i = end;
        }
    }

    private static string TrimJsonPath(string path) => path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
