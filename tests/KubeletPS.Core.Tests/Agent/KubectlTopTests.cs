using System.Diagnostics;
using System.Text.Json.Nodes;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>kubectl top node and kubectl top pod against the test cluster, the agent serving /metrics/resource on its kubelet port.</summary>
[Collection(KubeletAgentCollection.Name)]
public sealed class KubectlTopTests(KubeletAgentFixture fixture) : IAsyncLifetime
{
    private const string Node = "top-node";
    private TestApiServer _server = null!;
    private string _dir = null!;
    private readonly ListLog _log = new();

    public async Task InitializeAsync()
    {
        _server = await TestApiServer.StartAsync(new TestApiServerOptions { MetricsResolution = TimeSpan.FromSeconds(1) });
        _dir = Directory.CreateTempSubdirectory("kubeletps-top-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, true);
    }

    [Fact]
    public async Task Kubectl_top_prints_the_node_and_the_pods_from_the_kubelets_resource_metrics()
    {
        var kubeconfig = Path.Combine(_dir, "kubelet.conf");
        _server.WriteNodeKubeconfig(kubeconfig, Node);
        var admin = Path.Combine(_dir, "admin.conf");
        _server.WriteAdminKubeconfig(admin);
        var config = Path.Combine(_dir, "config.yaml");
        var ca = Path.Combine(_dir, "ca.crt");
        File.WriteAllText(ca, _server.CaPem);
        // The scraper's client certificate is of the cluster CA; AlwaysAllow keeps this test to top (the SubjectAccessReview path is StatsEndpointsTests').
        File.WriteAllText(config, "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\naddress: 127.0.0.1\n" +
            $"authentication:\n  x509:\n    clientCAFile: {ca}\nauthorization:\n  mode: AlwaysAllow\n");
        await using var agent = await KubeletAgent.CreateAsync(new KubeletAgentRequest
        {
            Node = new NodeAgentRequest
            {
                KubeconfigPath = kubeconfig,
                ConfigPath = config,
                NodeName = Node,
                // The scraper reaches the kubelet at the Node's InternalIP, as metrics-server does.
                NodeIp = "127.0.0.1",
                RuntimeEndpoint = fixture.Containerd.Endpoint,
                RootDirectory = Path.Combine(_dir, "root"),
            },
            PodLogDirectory = fixture.Containerd.PodLogsDir,
            StaticPodPath = "",
            ServerPort = 0,
            HealthzPort = -1,
        }, _log, CancellationToken.None);
        using var stop = new CancellationTokenSource();
        var run = agent.RunAsync(null, null, stop.Token);
        try
        {
            await TestApiClients.WaitUntilAsync(() => _server.Store.Get("nodes", null, Node) is not null, "the node registered", 60);
            _server.Store.Create("pods", JsonNode.Parse($$$"""
                {"apiVersion":"v1","kind":"Pod","metadata":{"name":"burner","namespace":"default"},
                 "spec":{"nodeName":"{{{Node}}}","terminationGracePeriodSeconds":1,"containers":[{"name":"burn","image":"kubeletps.local/busybox:latest",
                   "imagePullPolicy":"IfNotPresent","command":["sh","-c","while :; do :; done"]}]}}
                """)!.AsObject());
            await TestApiClients.WaitUntilAsync(() => (string?)_server.Store.Get("pods", "default", "burner")?["status"]?["phase"] == "Running", "the pod runs", 90);

            string nodes = "", pods = "";
            await TestApiClients.WaitUntilAsync(async () =>
            {
                (var ok, nodes) = await KubectlAsync(admin, "top", "node");
                if (!ok) return false;
                (ok, pods) = await KubectlAsync(admin, "top", "pod", "-A");
                return ok && pods.Contains("burner", StringComparison.Ordinal);
            }, "kubectl top to have metrics", 90).ContinueWith(t =>
            {
                if (t.IsFaulted) throw new Exception($"kubectl top node: {nodes}\nkubectl top pod -A: {pods}\nscrape errors: {string.Join("; ", _server.MetricsScrapeErrors)}", t.Exception);
            }, TaskScheduler.Default);

            Assert.Matches(@"NAME\s+CPU\(cores\)\s+CPU(\(%\)|%)\s+MEMORY\(bytes\)\s+MEMORY(\(%\)|%)", nodes);
            Assert.Matches($@"{Node}\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%", nodes);
            Assert.Matches(@"NAMESPACE\s+NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)", pods);
            var burner = System.Text.RegularExpressions.Regex.Match(pods, @"default\s+burner\s+(\d+)m\s+(\d+)Mi");
            Assert.True(burner.Success, pods);
            Assert.True(int.Parse(burner.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0, $"the burner uses CPU: {pods}");

            // The summary through the API server's nodes/proxy, as an administrator reads it, parses as kubelet's Summary.
            var (rawOk, raw) = await KubectlAsync(admin, "get", "--raw", $"/api/v1/nodes/{Node}/proxy/stats/summary");
            Assert.True(rawOk, raw);
            var summary = KubeletPS.Core.Stats.Summary.FromJson(raw);
            Assert.Equal(Node, summary.Node.NodeName);
            Assert.True(summary.Pods.Single(p => p.PodRef.Name == "burner").Containers.Single().Cpu!.UsageCoreNanoSeconds > 0);
            var (metricsOk, metrics) = await KubectlAsync(admin, "get", "--raw", $"/api/v1/nodes/{Node}/proxy/metrics/resource");
            Assert.True(metricsOk, metrics);
            Assert.Contains("container_cpu_usage_seconds_total{container=\"burn\",namespace=\"default\",pod=\"burner\"} ", metrics);
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            throw new Exception($"{e.Message}\nagent log:\n{string.Join("\n", _log.Lines.TakeLast(40))}", e);
        }
        finally
        {
            await stop.CancelAsync();
            await run.WaitAsync(TimeSpan.FromMinutes(2));
        }
    }

    private async Task<(bool Ok, string Output)> KubectlAsync(string kubeconfig, params string[] args)
    {
        var psi = new ProcessStartInfo("kubectl")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["KUBECACHEDIR"] = Path.Combine(_dir, "cache"), ["HOME"] = _dir },
        };
        psi.ArgumentList.Add("--kubeconfig");
        psi.ArgumentList.Add(kubeconfig);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (process.ExitCode == 0, await stdout + await stderr);
    }
}
