using System.Net;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Metrics;
using KubeletPS.Core.Server;
using KubeletPS.Core.Server.Endpoints;
using KubeletPS.Core.Tests.Pods;
using KubeletPS.Core.Tests.Server;
using KubeletPS.Core.Tests.Support;
using KubeletPS.Core.Tests.Support.Fakes;
using KubeletPS.Core.Runtime;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Metrics;

/// <summary>/metrics/probes: kubelet's prober_probe_total and prober_probe_duration_seconds from the probe workers of a running pod.</summary>
public sealed class ProbeMetricsTests
{
    // A static pod's name ends in the node's.
    private const string Pod = "probed-" + KubeletServerTestHost.NodeName;

    private const string Manifest = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: probed
          namespace: default
        spec:
          containers:
          - name: web
            image: busybox:1.36
            imagePullPolicy: IfNotPresent
            command: ["sleep", "3600"]
            readinessProbe:
              exec: {command: ["ready"]}
              periodSeconds: 1
            livenessProbe:
              exec: {command: ["live"]}
              periodSeconds: 1
              failureThreshold: 1000
        """;

    [Fact]
    public async Task A_pods_readiness_successes_and_liveness_failures_are_served_on_metrics_probes_authorized_as_nodes_metrics()
    {
        await using var api = await TestApiServer.StartAsync();
        var root = Directory.CreateTempSubdirectory("kps-probemetrics-").FullName;
        var manifests = Directory.CreateDirectory(Path.Combine(root, "manifests")).FullName;
        using var stop = new CancellationTokenSource();
        Task? run = null;
        PodSyncAgent? agent = null;
        try
        {
            File.WriteAllText(Path.Combine(manifests, "probed.yaml"), Manifest);
            var runtime = new FakeRuntimeService
            {
                // The readiness command passes, the liveness command fails (its threshold is never reached).
                Exec = (_, command) => new ExecSyncResult(command[0] == "ready" ? 0 : 1, "", command[0] == "ready" ? "" : "not live"),
            };
            var images = new FakeImageService(runtime.Calls);
            images.AddImage("busybox:1.36");
            var observed = new KubeletMetricSet();
            var log = new RecordingLog();
            agent = new PodSyncAgent(new PodSyncAgentOptions
            {
                NodeName = KubeletServerTestHost.NodeName,
                NodeIp = "10.0.0.1",
                StaticPodPath = manifests,
                RuntimeServices = (runtime, images),
                RootDirectory = Path.Combine(root, "kubelet"),
                PodLogsDirectory = Path.Combine(root, "logs"),
                ResolvConf = null,
                Log = log,
                Metrics = observed,
            });
            run = agent.RunAsync(stop.Token);
            string Uid() => agent.Pods.SingleOrDefault()?.Metadata.Uid ?? "";
            try
            {
                await TestApiClients.WaitUntilAsync(() =>
                    observed.ProbeTotal.Value("Readiness", "successful", "web", Pod, "default", Uid()) >= 1
                    && observed.ProbeTotal.Value("Liveness", "failed", "web", Pod, "default", Uid()) >= 1, "a readiness success and a liveness failure", 60);
            }
            catch (Exception e)
            {
                throw new Exception($"{e.Message}\nprobes:\n{observed.Probes.Render()}\nagent log:\n{string.Join("\n", log.Lines.Select(l => l.Message))}", e);
            }
            var uid = agent.Pods.Single().Metadata.Uid;

            await using var host = await KubeletServerTestHost.StartAsync(api, context: c => new KubeletServerContext
            {
                Options = c.Options,
                Client = c.Client,
                Identity = c.Identity,
                Metrics = new KubeletMetrics(KubeletServerTestHost.NodeName, () => agent.Pods, () => agent.RuntimeOperations, () => agent.LastRelist, observed),
            });
            using var client = host.Client(api.KubeletClientCertificate);
            using var response = await client.GetAsync("/metrics/probes");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(MetricsRegistry.ContentType, response.Content.Headers.ContentType?.ToString());
            var families = PrometheusTextParser.Parse(await response.Content.ReadAsStringAsync());

            // Only the probe registry: not the kubelet's /metrics families.
            Assert.Equal(["prober_probe_duration_seconds", "prober_probe_total"], families.Keys.Order(StringComparer.Ordinal));
            var total = families["prober_probe_total"];
            Assert.Equal("counter", total.Type);
            var readiness = total.Samples.Single(s => s.Label("probe_type") == "Readiness" && s.Label("result") == "successful");
            Assert.Equal(["probe_type", "result", "container", "pod", "namespace", "pod_uid"], readiness.Labels.Select(l => l.Key));
            Assert.Equal(("web", Pod, "default", uid), (readiness.Label("container"), readiness.Label("pod"), readiness.Label("namespace"), readiness.Label("pod_uid")));
            Assert.True(readiness.Value >= 1);
            Assert.True(total.Samples.Single(s => s.Label("probe_type") == "Liveness" && s.Label("result") == "failed").Value >= 1);
            Assert.DoesNotContain(total.Samples, s => s.Label("probe_type") == "Liveness" && s.Label("result") == "successful");

            // As kubelet's worker: a success is timed, a failure only counted.
            var duration = families["prober_probe_duration_seconds"];
            Assert.Equal("histogram", duration.Type);
            Assert.Contains(duration.Samples, s => s.Name == "prober_probe_duration_seconds_count" && s.Label("probe_type") == "Readiness" && s.Value >= 1);
            Assert.DoesNotContain(duration.Samples, s => s.Label("probe_type") == "Liveness");

            // Authorized as kubelet maps /metrics/probes: nodes/metrics.
            using var other = host.Client(api.Pki.IssueNode("other-node"));
            using var forbidden = await other.GetAsync("/metrics/probes");
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
            Assert.Equal("Forbidden (user=system:node:other-node, verb=get, resource=nodes, subresource=metrics)", await forbidden.Content.ReadAsStringAsync());
        }
        finally
        {
            await stop.CancelAsync();
            if (run is not null) await run;
            if (agent is not null) await agent.DisposeAsync();
            try { Directory.Delete(root, recursive: true); }
            catch (IOException) { }
        }
    }
}
