using System.Globalization;
using System.Text;

namespace KubeletPS.Core.Tests.Metrics;

/// <summary>One sample line: the sample's name (with _bucket/_sum/_count), its labels in order, its value.</summary>
internal sealed record PrometheusSample(string Name, IReadOnlyList<KeyValuePair<string, string>> Labels, double Value)
{
    public string? Label(string name) => Labels.FirstOrDefault(l => l.Key == name).Value;

    /// <summary>The labels other than le, as a key (a histogram's series).</summary>
    public string SeriesKey => string.Join(",", Labels.Where(l => l.Key != "le").Select(l => $"{l.Key}={l.Value}"));
}

internal sealed record PrometheusFamily(string Name, string Help, string Type, IReadOnlyList<PrometheusSample> Samples);

/// <summary>
/// A strict reader of the Prometheus text format 0.0.4 as Prometheus' own parser accepts it, and stricter where the
/// Go client always writes one way: every family has HELP then TYPE before its samples, each once; a family's
/// samples are contiguous and carry its name (a histogram's _bucket, _sum, _count; nothing else); label names are
/// valid and not repeated, values use only the \\ \" \n escapes; each histogram series has increasing le bounds, cumulative
/// non-decreasing counts, a +Inf bucket equal to _count, and a _sum. Any violation throws with the line number.
/// </summary>
internal static class PrometheusTextParser
{
    public static IReadOnlyDictionary<string, PrometheusFamily> Parse(string text)
    {
        if (text.Length > 0 && !text.EndsWith('\n')) throw new FormatException("the text does not end with a line feed.");
        var families = new Dictionary<string, PrometheusFamily>(StringComparer.Ordinal);
        string? name = null, help = null, type = null;
        List<PrometheusSample> samples = [];
        var lines = text.Split('\n');
        void Close(int line)
        {
            if (name is null) return;
            if (type is null) throw new FormatException($"line {line}: family {name} has HELP but no TYPE.");
            if (samples.Count == 0) throw new FormatException($"line {line}: family {name} has no samples (the Go client omits such a family).");
            var family = new PrometheusFamily(name, help!, type, samples);
            if (type == "histogram") CheckHistogram(family);
            families.Add(name, family);
            name = help = type = null;
            samples = [];
        }
        for (var i = 0; i < lines.Length - 1; i++)
        {
            var line = lines[i];
            var number = i + 1;
            if (line.Length == 0) throw new FormatException($"line {number}: empty line.");
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                Close(number);
                var rest = line[7..];
                var space = rest.IndexOf(' ');
                name = space < 0 ? rest : rest[..space];
                CheckName(name, number);
                if (families.ContainsKey(name)) throw new FormatException($"line {number}: family {name} appears twice.");
                help = space < 0 ? "" : UnescapeHelp(rest[(space + 1)..], number);
            }
            else if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line[7..].Split(' ');
                if (parts.Length != 2 || parts[0] != name || type is not null || samples.Count > 0)
                    throw new FormatException($"line {number}: TYPE must follow the HELP of its family, once: '{line}'.");
                if (parts[1] is not ("counter" or "gauge" or "histogram" or "summary" or "untyped"))
                    throw new FormatException($"line {number}: unknown type '{parts[1]}'.");
                type = parts[1];
            }
            else if (line.StartsWith('#'))
            {
                throw new FormatException($"line {number}: a comment the Go client does not write: '{line}'.");
            }
            else
            {
                if (name is null || type is null) throw new FormatException($"line {number}: a sample before any HELP/TYPE: '{line}'.");
                var sample = ParseSample(line, number);
                var allowed = type == "histogram" ? new[] { name + "_bucket", name + "_sum", name + "_count" } : [name];
                if (!allowed.Contains(sample.Name)) throw new FormatException($"line {number}: sample {sample.Name} in family {name} ({type}).");
                if (type == "counter" && sample.Value < 0) throw new FormatException($"line {number}: counter {name} is negative.");
                samples.Add(sample);
            }
        }
        Close(lines.Length);
        return families;
    }

    private static void CheckHistogram(PrometheusFamily family)
    {
        foreach (var series in family.Samples.GroupBy(s => s.SeriesKey))
        {
            var buckets = series.Where(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal)).ToList();
            if (buckets.Any(b => b.Label("le") is null)) throw new FormatException($"{family.Name}{{{series.Key}}}: a bucket without le.");
            var bounds = buckets.Select(b => b.Label("le") == "+Inf" ? double.PositiveInfinity : double.Parse(b.Label("le")!, CultureInfo.InvariantCulture)).ToList();
            for (var i = 1; i < bounds.Count; i++)
            {
                if (bounds[i] <= bounds[i - 1]) throw new FormatException($"{family.Name}{{{series.Key}}}: le bounds not increasing.");
                if (buckets[i].Value < buckets[i - 1].Value) throw new FormatException($"{family.Name}{{{series.Key}}}: bucket counts not cumulative.");
            }
            if (bounds.Count == 0 || !double.IsPositiveInfinity(bounds[^1])) throw new FormatException($"{family.Name}{{{series.Key}}}: no +Inf bucket last.");
            var count = series.SingleOrDefault(s => s.Name == family.Name + "_count") ?? throw new FormatException($"{family.Name}{{{series.Key}}}: no _count.");
            if (series.Count(s => s.Name == family.Name + "_sum") != 1) throw new FormatException($"{family.Name}{{{series.Key}}}: no single _sum.");
            if (buckets[^1].Value != count.Value) throw new FormatException($"{family.Name}{{{series.Key}}}: +Inf bucket {buckets[^1].Value} is not _count {count.Value}.");
        }
    }

    private static PrometheusSample ParseSample(string line, int number)
    {
        var i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ') i++;
        var name = line[..i];
        CheckName(name, number);
        var labels = new List<KeyValuePair<string, string>>();
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                var eq = line.IndexOf('=', i);
                if (eq < 0) throw new FormatException($"line {number}: a label without '='.");
                var label = line[i..eq];
                CheckName(label, number);
                if (labels.Any(l => l.Key == label)) throw new FormatException($"line {number}: label {label} twice.");
                if (eq + 1 >= line.Length || line[eq + 1] != '"') throw new FormatException($"line {number}: label {label}'s value is not quoted.");
                var value = new StringBuilder();
                var j = eq + 2;
                for (; ; j++)
                {
                    if (j >= line.Length) throw new FormatException($"line {number}: label {label}'s value is not closed.");
                    var c = line[j];
                    if (c == '"') break;
                    if (c == '\\')
                    {
                        j++;
                        value.Append(line[j] switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            var other => throw new FormatException($"line {number}: escape \\{other} in label {label}."),
                        });
                    }
                    else
                    {
                        value.Append(c);
                    }
                }
                labels.Add(new(label, value.ToString()));
                i = j + 1;
                if (line[i] == ',') i++;
                else if (line[i] != '}') throw new FormatException($"line {number}: expected ',' or '}}' after label {label}.");
            }
            i++;
        }
        if (i >= line.Length || line[i] != ' ') throw new FormatException($"line {number}: no space before the value: '{line}'.");
        var text = line[(i + 1)..];
        if (text.Contains(' ', StringComparison.Ordinal)) throw new FormatException($"line {number}: a timestamp or extra field the Go client does not write: '{line}'.");
        var parsed = text switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw new FormatException($"line {number}: value '{text}' is not a float."),
        };
        return new PrometheusSample(name, labels, parsed);
    }

    private static string UnescapeHelp(string help, int number)
    {
        var s = new StringBuilder();
        for (var i = 0; i < help.Length; i++)
        {
            if (help[i] != '\\') { s.Append(help[i]); continue; }
            i++;
            s.Append(i < help.Length ? help[i] switch { '\\' => '\\', 'n' => '\n', var o => throw new FormatException($"line {number}: escape \\{o} in HELP.") }
                : throw new FormatException($"line {number}: HELP ends in a backslash."));
        }
        return s.ToString();
    }

    private static void CheckName(string name, int number)
    {
        if (name.Length == 0 || char.IsAsciiDigit(name[0]) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ':'))
            throw new FormatException($"line {number}: '{name}' is not a valid name.");
    }
}
