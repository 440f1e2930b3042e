using System.Globalization;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Configuration.Clientcmd;
using KubeletPS.Core.Metrics;
using KubeletPS.Core.Server;
using KubeletPS.Core.Server.Endpoints;
using KubeletPS.Core.Tests.Pods;
using KubeletPS.Core.Tests.Server;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Metrics;

/// <summary>/metrics with kubelet's names, types and buckets, observed by the pod engine (over the fake runtime) as it starts pods.</summary>
public sealed class KubeletMetricsTests
{
    private static string[] Bounds(PrometheusFamily family, string? series = null) => family.Samples
        .Where(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal) && (series is null || s.SeriesKey == series))
        .Select(s => s.Label("le")!).ToArray();

    private static string[] Format(IEnumerable<double> bounds) => [.. bounds.Select(b => b.ToString("R", CultureInfo.InvariantCulture)), "+Inf"];

    private static double Count(PrometheusFamily family, string series = "") =>
        family.Samples.Single(s => s.Name == family.Name + "_count" && s.SeriesKey == series).Value;

    [Fact]
    public async Task Started_pods_are_counted_and_their_start_pod_syncs_relists_and_CRI_calls_observed_in_kubelets_histograms()
    {
        var root = Directory.CreateTempSubdirectory("kps-metrics-").FullName;
        var manifests = Directory.CreateDirectory(Path.Combine(root, "manifests")).FullName;
        try
        {
            File.WriteAllText(Path.Combine(manifests, "a.yaml"), FakeRuntimeAgent.Manifest("a"));
            File.WriteAllText(Path.Combine(manifests, "b.yaml"), FakeRuntimeAgent.Manifest("b"));
            var services = FakeRuntimeAgent.Runtime();
            var runtime = services.Runtime;
            var observed = new KubeletMetricSet();
            await using var agent = new PodSyncAgent(FakeRuntimeAgent.Options(root, manifests, services, new RecordingLog()) with { Metrics = observed });
            var metrics = new KubeletMetrics("node1", () => agent.Pods, () => agent.RuntimeOperations, () => agent.LastRelist, observed);
            var before = PrometheusTextParser.Parse(metrics.Render());
            Assert.Equal(0, Count(before["kubelet_pod_start_duration_seconds"]));

            var result = await agent.SyncOnceAsync(TimeSpan.FromSeconds(60));
            Assert.True(result.Settled);

            var families = PrometheusTextParser.Parse(metrics.Render());
            var start = families["kubelet_pod_start_duration_seconds"];
            Assert.Equal("histogram", start.Type);
            Assert.Equal(Format(KubeletMetricSet.PodStartupDurationBuckets), Bounds(start));
            Assert.Equal(2, Count(start));

            var worker = families["kubelet_pod_worker_duration_seconds"];
            Assert.Equal("histogram", worker.Type);
            Assert.Equal(2, Count(worker, "operation_type=create"));
            Assert.Equal(Format(Histogram.DefaultBuckets), Bounds(worker, "operation_type=create"));

            Assert.True(Count(families["kubelet_pleg_relist_duration_seconds"]) >= 1);
            Assert.Equal("histogram", families["kubelet_pleg_relist_interval_seconds"].Type);
            Assert.Equal(2, families["kubelet_started_pods_total"].Samples.Single().Value);
            Assert.Equal(0, families["kubelet_started_pods_errors_total"].Samples.Single().Value);

            var operations = families["kubelet_runtime_operations_duration_seconds"];
            Assert.Equal("histogram", operations.Type);
            Assert.Equal(Format(Histogram.ExponentialBuckets(.005, 2.5, 14)), Bounds(operations, "operation_type=run_podsandbox"));
            Assert.Equal(2, Count(operations, "operation_type=run_podsandbox"));
            Assert.Equal(2, families["kubelet_runtime_operations_total"].Samples.Single(s => s.Label("operation_type") == "run_podsandbox").Value);
            // No call failed: as kubelet's errors CounterVec without a child, the family is not written.
            Assert.False(families.ContainsKey("kubelet_runtime_operations_errors_total"));

            Assert.Equal("node1", families["kubelet_node_name"].Samples.Single().Label("node"));
            Assert.Equal(2, families["kubelet_running_pods"].Samples.Single().Value);
            Assert.Equal(2, families["kubelet_running_containers"].Samples.Single(s => s.Label("container_state") == "running").Value);
            Assert.Equal("gauge", families["kubelet_pleg_last_seen_seconds"].Type);
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); }
            catch (IOException) { }
        }
    }

    [Fact]
    public async Task The_kubelet_port_serves_metrics_as_text_0_0_4_and_counts_the_API_requests_the_nodes_client_sends()
    {
        await using var h = await ApiAgentHarness.StartAsync(KubeletServerTestHost.NodeName, "kps-restclient-", new TestApiServerOptions());
        var api = h.Server;
        h.WriteNodeFiles();
        var kubeconfig = await KubeconfigLoader.LoadAsync(h.KubeconfigPath, null, null, CancellationToken.None);
        using var nodeClient = ApiClientFactory.CreateClient(kubeconfig);
        var host = new Uri(api.Url).Authority;
        var okBefore = RestClientMetrics.Requests.Value("200", "GET", host);
        var missingBefore = RestClientMetrics.Requests.Value("404", "GET", host);

        await k8s.CoreV1OperationsExtensions.ListNamespacedPodAsync(nodeClient, "default");
        await Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() => k8s.CoreV1OperationsExtensions.ReadNodeAsync(nodeClient, "absent-node"));

        await using var server = await KubeletServerTestHost.StartAsync(api, context: c => new KubeletServerContext
        {
            Options = c.Options,
            Client = c.Client,
            Identity = c.Identity,
            Metrics = new KubeletMetrics(KubeletServerTestHost.NodeName, () => [], () => null, () => null),
        });
        using var client = server.Client(api.KubeletClientCertificate);
        using var response = await client.GetAsync("/metrics");
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        var families = PrometheusTextParser.Parse(await response.Content.ReadAsStringAsync());

        var requests = families["rest_client_requests_total"];
        Assert.Equal("counter", requests.Type);
        double Sample(string code) => requests.Samples.Single(s => s.Label("code") == code && s.Label("method") == "GET" && s.Label("host") == host).Value;
        Assert.Equal(okBefore + 1, Sample("200"), 0);
        Assert.Equal(missingBefore + 1, Sample("404"), 0);
        Assert.Equal(KubeletServerTestHost.NodeName, families["kubelet_node_name"].Samples.Single().Label("node"));
    }
}
