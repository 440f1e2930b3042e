using System.Text.Json.Nodes;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>kubectl top node and kubectl top pod against the test cluster, the agent serving /metrics/resource on its kubelet port.</summary>
[Collection(KubeletAgentCollection.Name)]
public sealed class KubectlTopTests(KubeletAgentFixture fixture) : IAsyncLifetime
{
    private const string Node = "top-node";
    private ApiAgentHarness _h = null!;

    public async Task InitializeAsync() =>
        _h = await ApiAgentHarness.StartAsync(Node, "kubeletps-top-", new TestApiServerOptions { MetricsResolution = TimeSpan.FromSeconds(1) });

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task Kubectl_top_prints_the_node_and_the_pods_from_the_kubelets_resource_metrics()
    {
        // The scraper's client certificate is of the cluster CA; AlwaysAllow keeps this test to top (the SubjectAccessReview path is StatsEndpointsTests').
        var config = $"address: 127.0.0.1\nauthentication:\n  x509:\n    clientCAFile: {_h.ClusterCaPath}\nauthorization:\n  mode: AlwaysAllow\n";
        // The scraper reaches the kubelet at the Node's InternalIP, as metrics-server does.
        await _h.RunAgentAsync(fixture.Containerd, config: config, configure: r => r with { Node = r.Node with { NodeIp = "127.0.0.1" } }, body: async () =>
        {
            _h.Server.Store.Create("pods", JsonNode.Parse($$$"""
                {"apiVersion":"v1","kind":"Pod","metadata":{"name":"burner","namespace":"default"},
                 "spec":{"nodeName":"{{{Node}}}","terminationGracePeriodSeconds":1,"containers":[{"name":"burn","image":"kubeletps.local/busybox:latest",
                   "imagePullPolicy":"IfNotPresent","command":["sh","-c","while :; do :; done"]}]}}
                """)!.AsObject());
            await _h.WaitForPhaseAsync("burner", "Running", 90);

            string nodes = "", pods = "";
            await TestApiClients.WaitUntilAsync(async () =>
            {
                (var ok, nodes) = await KubectlAsync("top", "node");
                if (!ok) return false;
                (ok, pods) = await KubectlAsync("top", "pod", "-A");
                return ok && pods.Contains("burner", StringComparison.Ordinal);
            }, "kubectl top to have metrics", 90).ContinueWith(t =>
            {
                if (t.IsFaulted) throw new Exception($"kubectl top node: {nodes}\nkubectl top pod -A: {pods}\nscrape errors: {string.Join("; ", _h.Server.MetricsScrapeErrors)}", t.Exception);
            }, TaskScheduler.Default);

            Assert.Matches(@"NAME\s+CPU\(cores\)\s+CPU(\(%\)|%)\s+MEMORY\(bytes\)\s+MEMORY(\(%\)|%)", nodes);
            Assert.Matches($@"{Node}\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%", nodes);
            Assert.Matches(@"NAMESPACE\s+NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)", pods);
            var burner = System.Text.RegularExpressions.Regex.Match(pods, @"default\s+burner\s+(\d+)m\s+(\d+)Mi");
            Assert.True(burner.Success, pods);
            Assert.True(int.Parse(burner.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0, $"the burner uses CPU: {pods}");

            // The summary through the API server's nodes/proxy, as an administrator reads it, parses as kubelet's Summary.
            var (rawOk, raw) = await KubectlAsync("get", "--raw", $"/api/v1/nodes/{Node}/proxy/stats/summary");
            Assert.True(rawOk, raw);
            var summary = KubeletPS.Core.Stats.Summary.FromJson(raw);
            Assert.Equal(Node, summary.Node.NodeName);
            Assert.True(summary.Pods.Single(p => p.PodRef.Name == "burner").Containers.Single().Cpu!.UsageCoreNanoSeconds > 0);
            var (metricsOk, metrics) = await KubectlAsync("get", "--raw", $"/api/v1/nodes/{Node}/proxy/metrics/resource");
            Assert.True(metricsOk, metrics);
            Assert.Contains("container_cpu_usage_seconds_total{container=\"burn\",namespace=\"default\",pod=\"burner\"} ", metrics);
        });
    }

    private async Task<(bool Ok, string Output)> KubectlAsync(params string[] args)
    {
        var result = await _h.AdminKubectl.RunAsync(args, timeoutSeconds: 30);
        return (result.Succeeded, result.Stdout + result.Stderr);
    }
}
