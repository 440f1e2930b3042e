using System.Net;
using KubeletPS.Core.Stats;
using KubeletPS.Core.Tests.Runtime;
using KubeletPS.Core.Tests.Server;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Stats;

/// <summary>/stats/summary and /metrics/resource on the kubelet server, over a pod of the private containerd.</summary>
[Collection(ContainerdCollection.Name)]
public sealed class StatsEndpointsTests(ContainerdFixture fixture) : IAsyncLifetime
{
    private TestApiServer _api = null!;

    public async Task InitializeAsync() => _api = await TestApiServer.StartAsync();

    public async Task DisposeAsync() => await _api.DisposeAsync();

    [Fact]
    public async Task The_summary_and_resource_metrics_are_served_to_an_authenticated_client_only()
    {
        var pod = fixture.NewPod("served");
        string? sandboxId = null;
        try
        {
            sandboxId = await fixture.Client.RunPodSandboxAsync(pod);
            var id = await fixture.Client.CreateContainerAsync(sandboxId, fixture.NewContainer("main", "sleep", "3600"), pod);
            await fixture.Client.StartContainerAsync(id);
            var stats = new CriStatsProvider(new CriStatsProviderOptions { NodeName = KubeletServerTestHost.NodeName, Runtime = fixture.Client });
            await using var host = await KubeletServerTestHost.StartAsync(_api, o => o with { AuthorizationMode = "AlwaysAllow" }, context: c => new global::KubeletPS.Core.Server.KubeletServerContext
            {
                Options = c.Options, Client = c.Client, Identity = c.Identity, Stats = stats,
            });

            using var admin = host.Client(_api.IssueClientCertificate("kube-apiserver-kubelet-client", "system:masters"));
            var response = await admin.GetAsync("/stats/summary");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            var summary = Summary.FromJson(await response.Content.ReadAsStringAsync());
            Assert.Equal(KubeletServerTestHost.NodeName, summary.Node.NodeName);
            Assert.NotNull(summary.Node.Fs?.CapacityBytes);
            var served = summary.Pods.Single(p => p.PodRef.Name == pod.Name);
            Assert.Equal("main", served.Containers.Single().Name);
            Assert.NotNull(served.Containers.Single().Memory?.WorkingSetBytes);

            var cpuAndMemory = Summary.FromJson(await admin.GetStringAsync("/stats/summary?only_cpu_and_memory=true"));
            Assert.Null(cpuAndMemory.Node.Fs);
            Assert.NotNull(cpuAndMemory.Pods.Single(p => p.PodRef.Name == pod.Name).Memory?.WorkingSetBytes);

            var metrics = await admin.GetAsync("/metrics/resource");
            Assert.Equal("text/plain; version=0.0.4; charset=utf-8", metrics.Content.Headers.ContentType?.ToString());
            var text = await metrics.Content.ReadAsStringAsync();
            Assert.Contains($"container_cpu_usage_seconds_total{{container=\"main\",namespace=\"default\",pod=\"{pod.Name}\"}} ", text);
            Assert.Contains("# TYPE node_memory_working_set_bytes gauge\nnode_memory_working_set_bytes ", text);
            Assert.Contains("\nscrape_error 0\n", text);

            // The attack without credentials: refused before any stats are read.
            using var anonymous = host.Client();
            var refused = await anonymous.GetAsync("/stats/summary");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("Unauthorized", await refused.Content.ReadAsStringAsync());
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/metrics/resource")).StatusCode);

            // A user the cluster grants nothing, through the SubjectAccessReview kubelet makes: 403 naming the subresource.
            await using var webhook = await KubeletServerTestHost.StartAsync(_api, context: c => new global::KubeletPS.Core.Server.KubeletServerContext
            {
                Options = c.Options, Client = c.Client, Identity = c.Identity, Stats = stats,
            });
            using var stranger = webhook.Client(_api.IssueClientCertificate("mallory"));
            var forbidden = await stranger.GetAsync("/stats/summary");
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
            Assert.Contains("subresource=stats", await forbidden.Content.ReadAsStringAsync());
            var forbiddenMetrics = await stranger.GetAsync("/metrics/resource");
            Assert.Equal(HttpStatusCode.Forbidden, forbiddenMetrics.StatusCode);
            Assert.Contains("subresource=metrics", await forbiddenMetrics.Content.ReadAsStringAsync());
            using var apiServer = webhook.Client(_api.IssueClientCertificate("kube-apiserver-kubelet-client", "system:masters"));
            Assert.Equal(HttpStatusCode.OK, (await apiServer.GetAsync("/stats/summary?only_cpu_and_memory=true")).StatusCode);
        }
        finally
        {
            await fixture.RemovePodAsync(sandboxId);
        }
    }
}
