using KubeletPS.Core.Metrics;

namespace KubeletPS.Core.Tests.Metrics;

public sealed class MetricsRegistryTests
{
    [Fact]
    public void A_histogram_writes_cumulative_buckets_with_le_a_plus_Inf_equal_to_count_and_its_sum()
    {
        var registry = new MetricsRegistry();
        var histogram = registry.Register(new Histogram("test_duration_seconds", "Help with a \\ backslash\nand a line feed.", Histogram.DefaultBuckets, "operation_type"));
        const string awkward = "a\"b\\c\nd";
        foreach (var v in new[] { 0.003, 0.02, 7, 100 }) histogram.Observe(v, awkward);
        histogram.Observe(0.005, "plain");

        var text = registry.Render();
        var family = PrometheusTextParser.Parse(text)["test_duration_seconds"];

        Assert.Equal("histogram", family.Type);
        Assert.Equal("Help with a \\ backslash\nand a line feed.", family.Help);
        var buckets = family.Samples.Where(s => s.Name == "test_duration_seconds_bucket" && s.Label("operation_type") == awkward)
            .ToDictionary(s => s.Label("le")!, s => s.Value);
        Assert.Equal(["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"], buckets.Keys);
        Assert.Equal(1, buckets["0.005"]);
        Assert.Equal(2, buckets["0.025"]);
        Assert.Equal(3, buckets["10"]);
        Assert.Equal(4, buckets["+Inf"]);
        Assert.Equal(107.023, family.Samples.Single(s => s.Name == "test_duration_seconds_sum" && s.Label("operation_type") == awkward).Value, 9);
        // An observation equal to a bound falls in that bound's bucket (le: less than or equal).
        Assert.Equal(1, family.Samples.Single(s => s.Label("operation_type") == "plain" && s.Label("le") == "0.005").Value);
        // The series are written in label-value order, and the label escaped as the format wants.
        Assert.Contains("test_duration_seconds_count{operation_type=\"a\\\"b\\\\c\\nd\"} 4\n", text);
        Assert.True(text.IndexOf("operation_type=\"a", StringComparison.Ordinal) < text.IndexOf("operation_type=\"plain", StringComparison.Ordinal));
    }

    [Fact]
    public void Families_are_sorted_by_name_and_a_labelled_family_without_series_is_left_out()
    {
        var registry = new MetricsRegistry();
        registry.Register(new Counter("zz_total", "Last."));
        registry.Register(new Counter("aa_by_code_total", "Labelled, never incremented.", "code"));
        registry.Register(new Gauge("mm_gauge", "Never set."));
        registry.Register(new Histogram("bb_seconds", "No observations.", [1, 2]));

        var text = registry.Render();
        var families = PrometheusTextParser.Parse(text);

        Assert.Equal(["bb_seconds", "zz_total"], families.Keys);
        Assert.StartsWith("# HELP bb_seconds No observations.\n# TYPE bb_seconds histogram\nbb_seconds_bucket{le=\"1\"} 0\n", text);
        Assert.Equal(0, families["zz_total"].Samples.Single().Value);
    }

    [Fact]
    public void The_wrong_number_of_label_values_and_a_counter_going_down_are_refused()
    {
        var counter = new Counter("x_total", "x", "code", "method");
        Assert.Throws<ArgumentException>(() => counter.Inc("200"));
        Assert.Throws<ArgumentOutOfRangeException>(() => counter.Add(-1, "200", "GET"));
        Assert.Throws<ArgumentException>(() => new Histogram("h", "h", [2, 1]));
        Assert.Throws<ArgumentException>(() => new Gauge("bad-name", "x"));
        Assert.Throws<ArgumentException>(() => new Gauge("g", "x", "le"));
    }

    [Fact]
    public void The_parser_rejects_what_the_format_does_not_allow()
    {
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("x 1\n"));
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("# HELP x h\n# TYPE x counter\nx{a=\"b\\t\"} 1\n"));
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"));
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n"));
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("# HELP x h\n# TYPE x gauge\nx 1"));
    }
}
