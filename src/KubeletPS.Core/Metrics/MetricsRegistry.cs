using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using KubeletPS.Core.Stats;

namespace KubeletPS.Core.Metrics;

/// <summary>
/// A metric family as Prometheus' client keeps one: a name, help, type and label names, and one series per set
/// of label values. Values are kept as they change (counters, histograms) or set when scraped (gauges); the text
/// is written by <see cref="MetricsRegistry.Render"/>, never concatenated per endpoint.
/// </summary>
public abstract class MetricFamily
{
    private protected MetricFamily(string name, string help, string type, IReadOnlyList<string> labelNames)
    {
        if (!IsValidName(name)) throw new ArgumentException($"'{name}' is not a Prometheus metric name.", nameof(name));
        foreach (var label in labelNames)
            if (!IsValidName(label) || label.Contains(':', StringComparison.Ordinal) || label == "le")
                throw new ArgumentException($"'{label}' is not a label name metric {name} may use.", nameof(labelNames));
        Name = name;
        Help = help;
        Type = type;
        LabelNames = labelNames;
    }

    public string Name { get; }
    public string Help { get; }
    public string Type { get; }
    public IReadOnlyList<string> LabelNames { get; }

    /// <summary>The series key of <paramref name="values"/> (checked against <see cref="LabelNames"/>).</summary>
    private protected string Key(string[] values)
    {
        if (values.Length != LabelNames.Count)
            throw new ArgumentException($"metric {Name} takes {LabelNames.Count} label values ({string.Join(", ", LabelNames)}), not {values.Length}.", nameof(values));
        return string.Join('\u00ff', values);
    }

    /// <summary>The series in label-value order, as the Go registry gathers them; a family without labels always has its one series.</summary>
    private protected static IEnumerable<(string[] Labels, T Value)> Sorted<T>(ConcurrentDictionary<string, (string[] Labels, T Value)> series) =>
        series.Values.OrderBy(s => s.Labels, LabelValuesComparer.Instance);

    internal abstract bool HasSeries { get; }

    internal abstract void WriteSamples(StringBuilder text);

    private protected string Labels(string[] values, string? extraName = null, string? extraValue = null)
    {
        if (values.Length == 0 && extraName is null) return "";
        var parts = LabelNames.Select((n, i) => $"{n}=\"{EscapeLabelValue(values[i])}\"");
        if (extraName is not null) parts = parts.Append($"{extraName}=\"{extraValue}\"");
        return "{" + string.Join(",", parts) + "}";
    }

    private protected static void Sample(StringBuilder text, string name, string labels, double value) =>
        text.Append(name).Append(labels).Append(' ').Append(ResourceMetricsWriter.FormatValue(value)).Append('\n');

    /// <summary>Label values escape backslash, double quote and line feed (text format 0.0.4).</summary>
    public static string EscapeLabelValue(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal)
        .Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>HELP text escapes backslash and line feed only.</summary>
    public static string EscapeHelp(string help) => help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static bool IsValidName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ':');

    private sealed class LabelValuesComparer : IComparer<string[]>
    {
        public static readonly LabelValuesComparer Instance = new();

        public int Compare(string[]? x, string[]? y)
        {
            for (var i = 0; i < Math.Min(x!.Length, y!.Length); i++)
            {
                var c = string.CompareOrdinal(x[i], y[i]);
                if (c != 0) return c;
            }
            return x.Length.CompareTo(y.Length);
        }
    }
}

/// <summary>A counter: only goes up (a restart starts it at 0).</summary>
public sealed class Counter(string name, string help, params string[] labelNames) : MetricFamily(name, help, "counter", labelNames)
{
    private readonly ConcurrentDictionary<string, (string[] Labels, StrongBox<double> Value)> _series = new(StringComparer.Ordinal);

    public void Inc(params string[] labels) => Add(1, labels);

    public void Add(double amount, params string[] labels)
    {
        if (amount < 0 || double.IsNaN(amount)) throw new ArgumentOutOfRangeException(nameof(amount), $"counter {Name} cannot go down.");
        var box = _series.GetOrAdd(Key(labels), _ => ((string[])labels.Clone(), new StrongBox<double>())).Value;
        lock (box) box.Value += amount;
    }

    public double Value(params string[] labels) => _series.TryGetValue(Key(labels), out var s) ? s.Value.Value : 0;

    /// <summary>Drops one series (client_golang's Delete: what it counted is gone with it).</summary>
    public void Remove(params string[] labels) => _series.TryRemove(Key(labels), out _);

    internal override bool HasSeries => LabelNames.Count == 0 || !_series.IsEmpty;

    internal override void WriteSamples(StringBuilder text)
    {
        if (LabelNames.Count == 0 && _series.IsEmpty) Sample(text, Name, "", 0);
        foreach (var (labels, value) in Sorted(_series)) Sample(text, Name, Labels(labels), value.Value);
    }
}

/// <summary>A gauge: set to what is true now (the agent sets most when scraped).</summary>
public sealed class Gauge(string name, string help, params string[] labelNames) : MetricFamily(name, help, "gauge", labelNames)
{
    private readonly ConcurrentDictionary<string, (string[] Labels, StrongBox<double> Value)> _series = new(StringComparer.Ordinal);

    public void Set(double value, params string[] labels) =>
        _series.GetOrAdd(Key(labels), _ => ((string[])labels.Clone(), new StrongBox<double>())).Value.Value = value;

    /// <summary>Drops every series (before setting the ones true now: a container state no container is in is not reported).</summary>
    public void Reset() => _series.Clear();

    public double Value(params string[] labels) => _series.TryGetValue(Key(labels), out var s) ? s.Value.Value : 0;

    internal override bool HasSeries => !_series.IsEmpty;

    internal override void WriteSamples(StringBuilder text)
    {
        foreach (var (labels, value) in Sorted(_series)) Sample(text, Name, Labels(labels), value.Value);
    }
}

/// <summary>A histogram with fixed upper bounds: cumulative _bucket{le} counts, _sum and _count per series.</summary>
public sealed class Histogram : MetricFamily
{
    private readonly ConcurrentDictionary<string, (string[] Labels, HistogramSeries Value)> _series = new(StringComparer.Ordinal);

    public Histogram(string name, string help, IReadOnlyList<double> buckets, params string[] labelNames) : base(name, help, "histogram", labelNames)
    {
        if (buckets.Count == 0 || buckets.Zip(buckets.Skip(1)).Any(p => p.First >= p.Second))
            throw new ArgumentException($"histogram {name} needs increasing bucket bounds.", nameof(buckets));
        Buckets = buckets.Where(b => !double.IsPositiveInfinity(b)).ToArray();
    }

    /// <summary>The upper bounds, without +Inf (always added).</summary>
    public IReadOnlyList<double> Buckets { get; }

    /// <summary>client_golang's DefBuckets: .005 … 10 s.</summary>
    public static IReadOnlyList<double> DefaultBuckets { get; } = [.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10];

    /// <summary>client_golang's ExponentialBuckets(start, factor, count).</summary>
    public static IReadOnlyList<double> ExponentialBuckets(double start, double factor, int count) =>
        Enumerable.Range(0, count).Select(i => start * Math.Pow(factor, i)).ToArray();

    public void Observe(double value, params string[] labels)
    {
        var series = _series.GetOrAdd(Key(labels), _ => ((string[])labels.Clone(), new HistogramSeries(Buckets.Count))).Value;
        var bucket = 0;
        while (bucket < Buckets.Count && value > Buckets[bucket]) bucket++;
        lock (series)
        {
            series.Counts[bucket]++;
            series.Sum += value;
            series.Count++;
        }
    }

    public void Observe(TimeSpan duration, params string[] labels) => Observe(duration.TotalSeconds, labels);

    /// <summary>How many observations the series holds.</summary>
    public long Count(params string[] labels) => _series.TryGetValue(Key(labels), out var s) ? s.Value.Count : 0;

    /// <summary>Drops one series.</summary>
    public void Remove(params string[] labels) => _series.TryRemove(Key(labels), out _);

    internal override bool HasSeries => LabelNames.Count == 0 || !_series.IsEmpty;

    internal override void WriteSamples(StringBuilder text)
    {
        var all = Sorted(_series).ToList();
        if (LabelNames.Count == 0 && all.Count == 0) all.Add(([], new HistogramSeries(Buckets.Count)));
        foreach (var (labels, series) in all)
        {
            long[] counts;
            double sum;
            long count;
            lock (series)
            {
                counts = (long[])series.Counts.Clone();
                sum = series.Sum;
                count = series.Count;
            }
            long cumulative = 0;
            for (var i = 0; i < Buckets.Count; i++)
            {
                cumulative += counts[i];
                Sample(text, Name + "_bucket", Labels(labels, "le", ResourceMetricsWriter.FormatValue(Buckets[i])), cumulative);
            }
            Sample(text, Name + "_bucket", Labels(labels, "le", "+Inf"), count);
            Sample(text, Name + "_sum", Labels(labels), sum);
            Sample(text, Name + "_count", Labels(labels), count);
        }
    }

    private sealed class HistogramSeries(int buckets)
    {
        // One more than the bounds: the observations above the last bound (only in +Inf).
        public readonly long[] Counts = new long[buckets + 1];
        public double Sum;
        public long Count;
    }
}

/// <summary>Metric families written together in the Prometheus text format, version 0.0.4, sorted by name as the Go registry gathers them.</summary>
public sealed class MetricsRegistry
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly ConcurrentDictionary<string, MetricFamily> _families = new(StringComparer.Ordinal);

    public T Register<T>(T family) where T : MetricFamily
    {
        if (!_families.TryAdd(family.Name, family)) throw new ArgumentException($"metric {family.Name} is registered already.", nameof(family));
        return family;
    }

    /// <summary>The families in text format; a family with no series is left out, as client_golang does.</summary>
    public static void Write(StringBuilder text, IEnumerable<MetricFamily> families)
    {
        foreach (var family in families.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            if (!family.HasSeries) continue;
            text.Append(CultureInfo.InvariantCulture, $"# HELP {family.Name} {MetricFamily.EscapeHelp(family.Help)}\n# TYPE {family.Name} {family.Type}\n");
            family.WriteSamples(text);
        }
    }

    public IReadOnlyList<MetricFamily> Families => _families.Values.ToList();

    public string Render()
    {
        var text = new StringBuilder();
        Write(text, _families.Values);
        return text.ToString();
    }
}
