using System.Text.Json.Nodes;

namespace KubeletPS.TestCluster.Storage;

/// <summary>
/// A label selector in the string syntax of k8s.io/apimachinery/pkg/labels: comma-separated requirements
/// <c>k=v</c>, <c>k==v</c>, <c>k!=v</c>, <c>k in (a,b)</c>, <c>k notin (a,b)</c>, <c>k</c> (exists) and <c>!k</c>.
/// </summary>
public sealed class LabelSelector
{
    private enum Operator { Equals, NotEquals, In, NotIn, Exists, DoesNotExist }

    private sealed record Requirement(string Key, Operator Op, IReadOnlyList<string> Values);

    private readonly List<Requirement> _requirements;

    private LabelSelector(List<Requirement> requirements) => _requirements = requirements;

    public static LabelSelector Everything { get; } = new([]);

    public bool IsEverything => _requirements.Count == 0;

    public static LabelSelector Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return Everything;
        var requirements = new List<Requirement>();
        foreach (var part in SplitTopLevel(text))
        {
            var p = part.Trim();
            if (p.Length == 0) throw Invalid(text);
            if (p.StartsWith('!'))
            {
                requirements.Add(new(CheckKey(p[1..].Trim(), text), Operator.DoesNotExist, []));
                continue;
            }
            var notin = IndexOfWord(p, "notin");
            var inIdx = IndexOfWord(p, "in");
            if (notin > 0 || inIdx > 0)
            {
                var (idx, op, len) = notin > 0 ? (notin, Operator.NotIn, 5) : (inIdx, Operator.In, 2);
                var key = CheckKey(p[..idx].Trim(), text);
                var set = p[(idx + len)..].Trim();
                if (!set.StartsWith('(') || !set.EndsWith(')')) throw Invalid(text);
                var values = set[1..^1].Split(',').Select(v => v.Trim()).ToList();
                requirements.Add(new(key, op, values));
                continue;
            }
            int at;
            if ((at = p.IndexOf("!=", StringComparison.Ordinal)) > 0)
                requirements.Add(new(CheckKey(p[..at].Trim(), text), Operator.NotEquals, [p[(at + 2)..].Trim()]));
            else if ((at = p.IndexOf("==", StringComparison.Ordinal)) > 0)
                requirements.Add(new(CheckKey(p[..at].Trim(), text), Operator.Equals, [p[(at + 2)..].Trim()]));
            else if ((at = p.IndexOf('=')) > 0)
                requirements.Add(new(CheckKey(p[..at].Trim(), text), Operator.Equals, [p[(at + 1)..].Trim()]));
            else
                requirements.Add(new(CheckKey(p, text), Operator.Exists, []));
        }
        return new LabelSelector(requirements);
    }

    public bool Matches(JsonObject obj)
    {
        if (IsEverything) return true;
        var labels = obj["metadata"]?["labels"] as JsonObject;
        foreach (var r in _requirements)
        {
            var has = labels is not null && labels.ContainsKey(r.Key);
            var value = has ? labels![r.Key]?.GetValue<string>() : null;
            var ok = r.Op switch
            {
                Operator.Exists => has,
                Operator.DoesNotExist => !has,
                Operator.Equals => has && value == r.Values[0],
                Operator.In => has && r.Values.Contains(value),
                // As in apimachinery: != and notin also match objects that lack the label.
                Operator.NotEquals => !has || value != r.Values[0],
                Operator.NotIn => !has || !r.Values.Contains(value),
                _ => false,
            };
            if (!ok) return false;
        }
        return true;
    }

    private static IEnumerable<string> SplitTopLevel(string text)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '(') depth++;
            else if (text[i] == ')') depth--;
            else if (text[i] == ',' && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }
        yield return text[start..];
    }

    private static int IndexOfWord(string s, string word)
    {
        var i = s.IndexOf(" " + word, StringComparison.Ordinal);
        while (i >= 0)
        {
            var after = i + 1 + word.Length;
            if (after < s.Length && (s[after] == ' ' || s[after] == '(')) return i + 1;
            i = s.IndexOf(" " + word, i + 1, StringComparison.Ordinal);
        }
        return -1;
    }

    private static string CheckKey(string key, string text) =>
        key.Length == 0 || key.Any(c => char.IsWhiteSpace(c) || c is '(' or ')' or '=' or '!') ? throw Invalid(text) : key;

    private static ApiException Invalid(string text) =>
        ApiException.BadRequest($"unable to parse requirement: found '{text}', expected: valid label selector");
}

/// <summary>
/// A field selector (<c>f=v</c>, <c>f==v</c>, <c>f!=v</c>, comma-separated) over the fields a type declares selectable,
/// rejecting others with the real server's "field label not supported" error.
/// </summary>
public sealed class FieldSelector
{
    private readonly List<(string Field, bool Equal, string Value)> _terms;

    private FieldSelector(List<(string, bool, string)> terms) => _terms = terms;

    public static FieldSelector Everything { get; } = new([]);

    public bool IsEverything => _terms.Count == 0;

    public static FieldSelector Parse(string? text, ResourceType type)
    {
        if (string.IsNullOrWhiteSpace(text)) return Everything;
        var terms = new List<(string, bool, string)>();
        foreach (var raw in text.Split(','))
        {
            var p = raw.Trim();
            int at;
            (string field, bool equal, string value) term;
            if ((at = p.IndexOf("!=", StringComparison.Ordinal)) > 0) term = (p[..at], false, p[(at + 2)..]);
            else if ((at = p.IndexOf("==", StringComparison.Ordinal)) > 0) term = (p[..at], true, p[(at + 2)..]);
            else if ((at = p.IndexOf('=')) > 0) term = (p[..at], true, p[(at + 1)..]);
            else throw ApiException.BadRequest($"invalid selector: '{text}'; can't understand '{p}'");
            var field = term.field.Trim();
            var allowed = field is "metadata.name" || (field is "metadata.namespace" && type.Namespaced) || type.SelectableFields.Contains(field);
            if (!allowed) throw ApiException.BadRequest($"field label not supported: {field}");
            terms.Add((field, term.equal, term.value.Trim()));
        }
        return new FieldSelector(terms);
    }

    public bool Matches(JsonObject obj)
    {
        foreach (var (field, equal, value) in _terms)
        {
            if ((FieldValue(obj, field) == value) != equal) return false;
        }
        return true;
    }

    /// <summary>The field as the server's field set renders it: missing fields are "", booleans "true"/"false".</summary>
    public static string FieldValue(JsonObject obj, string path)
    {
        JsonNode? node = obj;
        foreach (var part in path.Split('.'))
        {
            node = (node as JsonObject)?[part];
            if (node is null) return "";
        }
        // Event "source" selects on source.component.
        if (node is JsonObject o && path == "source") return o["component"]?.ToString() ?? "";
        return node switch
        {
            JsonValue v when v.TryGetValue<bool>(out var b) => b ? "true" : "false",
            JsonValue v => v.ToString(),
            _ => node.ToJsonString(),
        };
    }
}
