using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Metrics;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.Core.Tests.TestCluster;

/// <summary>metrics.k8s.io from two scrapes of a kubelet's /metrics/resource, as metrics-server computes it.</summary>
public sealed class MetricsApiTests
{
    private static string Scrape(double nodeCpu, double webCpu, long t, double webStart = 1700000000) => $"""
        # HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
        # TYPE node_cpu_usage_seconds_total counter
        node_cpu_usage_seconds_total {nodeCpu} {t}
        node_memory_working_set_bytes 1.048576e+08 {t}
        container_cpu_usage_seconds_total{'{'}container="app",namespace="default",pod="web"{'}'} {webCpu} {t}
        container_memory_working_set_bytes{'{'}container="app",namespace="default",pod="web"{'}'} 8192 {t}
        container_start_time_seconds{'{'}container="app",namespace="default",pod="web"{'}'} {webStart}
        container_cpu_usage_seconds_total{'{'}container="app",namespace="other",pod="db"{'}'} 1 {t}
        container_memory_working_set_bytes{'{'}container="app",namespace="other",pod="db"{'}'} 4096 {t}
        scrape_error 0
        """;

    private static ObjectStore Cluster()
    {
        var store = new ObjectStore();
        store.Create("namespaces", JsonNode.Parse("""{"metadata":{"name":"default"}}""")!.AsObject());
        store.Create("namespaces", JsonNode.Parse("""{"metadata":{"name":"other"}}""")!.AsObject());
        store.Create("nodes", JsonNode.Parse("""{"metadata":{"name":"n1","labels":{"zone":"a"}}}""")!.AsObject());
        store.Create("pods", JsonNode.Parse("""{"metadata":{"name":"web","namespace":"default","labels":{"app":"web"}},"spec":{"nodeName":"n1","containers":[{"name":"app","image":"x"}]}}""")!.AsObject());
        store.Create("pods", JsonNode.Parse("""{"metadata":{"name":"db","namespace":"other"},"spec":{"nodeName":"n1","containers":[{"name":"app","image":"x"}]}}""")!.AsObject());
        return store;
    }

    [Fact]
    public async Task Two_scrapes_give_the_cpu_rate_the_latest_working_set_and_the_window()
    {
        var scrapes = new Queue<string>([Scrape(100, 10, 1_764_590_400_000), Scrape(101.5, 10.25, 1_764_590_410_000)]);
        await using var metrics = new MetricsApi(Cluster(), (_, _) => Task.FromResult(scrapes.Count > 1 ? scrapes.Dequeue() : scrapes.Peek()), TimeSpan.FromMilliseconds(50));

        // One scrape: nothing yet, as metrics-server answers before it has two points.
        var first = metrics.Handle("list", "nodes", null, "", null, null);
        Assert.Empty(first["items"]!.AsArray());
        await TestApiClientsWait(() => metrics.Handle("list", "nodes", null, "", null, null)["items"]!.AsArray().Count == 1);

        var node = metrics.Handle("get", "nodes", null, "n1", null, null);
        Assert.Equal("NodeMetrics", (string?)node["kind"]);
        Assert.Equal("metrics.k8s.io/v1beta1", (string?)node["apiVersion"]);
        Assert.Equal("150m", (string?)node["usage"]!["cpu"]);
        Assert.Equal("100Mi", (string?)node["usage"]!["memory"]);
        Assert.Equal("10s", (string?)node["window"]);
        Assert.Equal("2025-12-01T12:00:10Z", (string?)node["timestamp"]);
        Assert.Equal("a", (string?)node["metadata"]!["labels"]!["zone"]);

        var pods = metrics.Handle("list", "pods", null, "", null, null)["items"]!.AsArray();
        var web = pods.Single(p => (string?)p!["metadata"]!["name"] == "web")!;
        Assert.Equal("PodMetrics", (string?)web["kind"]);
        Assert.Equal("default", (string?)web["metadata"]!["namespace"]);
        Assert.Equal("25m", (string?)web["containers"]![0]!["usage"]!["cpu"]);
        Assert.Equal("8Ki", (string?)web["containers"]![0]!["usage"]!["memory"]);
        Assert.Equal("0", (string?)pods.Single(p => (string?)p!["metadata"]!["name"] == "db")!["containers"]![0]!["usage"]!["cpu"]);

        // kubectl top pod -n default -l app=web, and kubectl top pod NAME.
        Assert.Single(metrics.Handle("list", "pods", "default", "", "app=web", null)["items"]!.AsArray());
        Assert.Empty(metrics.Handle("list", "pods", "default", "", "app=db", null)["items"]!.AsArray());
        Assert.Single(metrics.Handle("list", "pods", null, "", null, "metadata.name=db")["items"]!.AsArray());
        Assert.Equal("web", (string?)metrics.Handle("get", "pods", "default", "web", null, null)["metadata"]!["name"]);
        Assert.Equal(404, Assert.Throws<ApiException>(() => metrics.Handle("get", "pods", "default", "absent", null, null)).Code);
    }

    [Fact]
    public async Task A_restarted_container_has_no_metrics_until_it_has_two_points()
    {
        var scrapes = new Queue<string>([Scrape(100, 10, 1_764_590_400_000, webStart: 1), Scrape(101, 0.5, 1_764_590_410_000, webStart: 2)]);
        await using var metrics = new MetricsApi(Cluster(), (_, _) => Task.FromResult(scrapes.Count > 1 ? scrapes.Dequeue() : scrapes.Peek()), TimeSpan.FromMilliseconds(50));
        metrics.EnsureScraping();
        await TestApiClientsWait(() => metrics.Handle("list", "nodes", null, "", null, null)["items"]!.AsArray().Count == 1);
        var names = metrics.Handle("list", "pods", null, "", null, null)["items"]!.AsArray().Select(p => (string?)p!["metadata"]!["name"]).ToList();
        Assert.Equal(["db"], names);
    }

    [Theory]
    [InlineData(1234567L, "1234567n")]
    [InlineData(250_000_000L, "250m")]
    [InlineData(2_000_000_000L, "2")]
    [InlineData(5_000L, "5u")]
    [InlineData(0L, "0")]
    public void Cpu_is_written_as_a_canonical_nanocore_quantity(long nanoCores, string expected) =>
        Assert.Equal(expected, MetricsQuantity.Cpu(nanoCores));

    [Theory]
    [InlineData(8192L, "8Ki")]
    [InlineData(104857600L, "100Mi")]
    [InlineData(1000L, "1000")]
    [InlineData(3221225472L, "3Gi")]
    public void Memory_is_written_as_a_canonical_binary_quantity(long bytes, string expected) =>
        Assert.Equal(expected, MetricsQuantity.Memory(bytes));

    [Theory]
    [InlineData(10_000, "10s")]
    [InlineData(10_500, "10.5s")]
    [InlineData(61_250, "1m1.25s")]
    [InlineData(150, "150ms")]
    public void The_window_is_a_Go_duration(int milliseconds, string expected) =>
        Assert.Equal(expected, MetricsQuantity.Duration(TimeSpan.FromMilliseconds(milliseconds)));

    private static Task TestApiClientsWait(Func<bool> condition) =>
        Support.TestApiClients.WaitUntilAsync(condition, "two scrapes", 20);
}
