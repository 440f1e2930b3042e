using KubeletPS.Core.Stats;

namespace KubeletPS.Core.Tests.Stats;

public sealed class ResourceMetricsWriterTests
{
    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(1.0, "1")]
    [InlineData(123456.0, "123456")]
    [InlineData(10694656.0, "1.0694656e+07")]
    [InlineData(1000000.0, "1e+06")]
    [InlineData(11569.659450152, "11569.659450152")]
    [InlineData(0.00012, "0.00012")]
    [InlineData(0.000012, "1.2e-05")]
    [InlineData(1764590400.5, "1.7645904005e+09")]
    [InlineData(-2.5, "-2.5")]
    public void FormatValue_WritesGoShortestG(double value, string expected) =>
        Assert.Equal(expected, ResourceMetricsWriter.FormatValue(value));

    [Fact]
    public void Write_UsesKubeletsNamesLabelsAndMillisecondTimestamps()
    {
        var t = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
        var ms = t.ToUnixTimeMilliseconds();
        var summary = new Summary
        {
            Node = new NodeStats
            {
                NodeName = "node1",
                Cpu = new CpuStats { Time = t, UsageCoreNanoSeconds = 12_500_000_000 },
                Memory = new MemoryStats { Time = t, WorkingSetBytes = 2_000_000 },
            },
            Pods =
            [
                new PodStats
                {
                    PodRef = new PodReference { Name = "web", Namespace = "default", Uid = "u1" },
                    Cpu = new CpuStats { Time = t, UsageCoreNanoSeconds = 3_000_000_000 },
                    Memory = new MemoryStats { Time = t, WorkingSetBytes = 4096 },
                    Containers =
                    [
                        new ContainerStats
                        {
                            Name = "nginx",
                            StartTime = t.AddSeconds(-10),
                            Cpu = new CpuStats { Time = t, UsageCoreNanoSeconds = 3_000_000_000 },
                            Memory = new MemoryStats { Time = t, WorkingSetBytes = 4096 },
                        },
                    ],
                },
            ],
        };

        var text = ResourceMetricsWriter.Write(summary);

        var expected = string.Join("\n",
            "# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds",
            "# TYPE container_cpu_usage_seconds_total counter",
            $"container_cpu_usage_seconds_total{{container=\"nginx\",namespace=\"default\",pod=\"web\"}} 3 {ms}",
            "# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes",
            "# TYPE container_memory_working_set_bytes gauge",
            $"container_memory_working_set_bytes{{container=\"nginx\",namespace=\"default\",pod=\"web\"}} 4096 {ms}",
            "# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds",
            "# TYPE container_start_time_seconds gauge",
            "container_start_time_seconds{container=\"nginx\",namespace=\"default\",pod=\"web\"} 1.79612639e+09",
            "# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds",
            "# TYPE node_cpu_usage_seconds_total counter",
            $"node_cpu_usage_seconds_total 12.5 {ms}",
            "# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes",
            "# TYPE node_memory_working_set_bytes gauge",
            $"node_memory_working_set_bytes 2e+06 {ms}",
            "# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds",
            "# TYPE pod_cpu_usage_seconds_total counter",
            $"pod_cpu_usage_seconds_total{{namespace=\"default\",pod=\"web\"}} 3 {ms}",
            "# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes",
            "# TYPE pod_memory_working_set_bytes gauge",
            $"pod_memory_working_set_bytes{{namespace=\"default\",pod=\"web\"}} 4096 {ms}",
            "# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise",
            "# TYPE resource_scrape_error gauge",
            "resource_scrape_error 0",
            "# HELP scrape_error [ALPHA] (Deprecated since 1.29.0) 1 if there was an error while getting container metrics, 0 otherwise",
            "# TYPE scrape_error gauge",
            "scrape_error 0",
            "");
        Assert.Equal(expected, text);
    }

    [Fact]
    public void Write_WithoutASummary_ReportsTheScrapeErrorOnly()
    {
        var text = ResourceMetricsWriter.Write(null);
        Assert.Contains("\nscrape_error 1\n", text);
        Assert.Contains("\nresource_scrape_error 1\n", text);
        Assert.DoesNotContain("node_cpu_usage_seconds_total", text);
    }

    [Fact]
    public void Write_EscapesLabelValues()
    {
        var summary = new Summary
        {
            Pods = [new PodStats { PodRef = new PodReference { Name = "a\"b\\c", Namespace = "ns" }, Memory = new MemoryStats { WorkingSetBytes = 1 } }],
        };
        Assert.Contains("pod_memory_working_set_bytes{namespace=\"ns\",pod=\"a\\\"b\\\\c\"} 1 ", ResourceMetricsWriter.Write(summary));
    }
}
