using System.Diagnostics;
using System.Text.Json.Nodes;
using KubeletPS.Core.Tests.Agent;
using KubeletPS.Core.Tests.Support;

namespace KubeletPS.Core.Tests.Server.Endpoints;

/// <summary>kubectl 1.32 against the test cluster, through its pods/log and nodes/proxy to a running agent's kubelet server.</summary>
[Collection(KubeletAgentCollection.Name)]
public sealed class KubectlLogsTests(KubeletAgentFixture fixture) : IAsyncLifetime
{
    private const string Node = "logs-node";
    private ApiAgentHarness _h = null!;

    public async Task InitializeAsync() => _h = await ApiAgentHarness.StartAsync(Node, "kubeletps-kubectl-");

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private Task<string> KubectlAsync(params string[] args) => _h.AdminKubectl.OutputAsync(args);

    private Process Kubectl(string[] args) => Process.Start(_h.AdminKubectl.StartInfo(args))!;

    private static JsonObject Pod(string name, string script, string restartPolicy = "Always") => JsonNode.Parse("""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME","namespace":"default"},
         "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":2,"restartPolicy":"POLICY","containers":[{"name":"main","image":"kubeletps.local/busybox:latest",
           "imagePullPolicy":"IfNotPresent","command":["sh","-c","SCRIPT"]}]}}
        """.Replace("NAME", name).Replace("NODE", Node).Replace("POLICY", restartPolicy).Replace("SCRIPT", script))!.AsObject();

    [Fact]
    public async Task Kubectl_logs_and_get_raw_reach_the_kubelet_server_of_a_running_agent()
    {
        var ca = _h.ClusterCaPath;
        await using var agent = await _h.StartAgentAsync(fixture.Containerd, config: $"authentication:\n  x509:\n    clientCAFile: {ca}\n",
            configure: r => r with { Node = r.Node with { NodeIp = "127.0.0.1" } });
        await agent.RunAsync(async () =>
        {
            await _h.WaitForNodeAsync();
            // The Node advertises the port actually served.
            Assert.Equal(agent.Agent.Server!.Port, (int?)_h.Server.Store.Get("nodes", null, Node)!["status"]!["daemonEndpoints"]!["kubeletEndpoint"]!["Port"]);
            _h.Server.Store.Create("pods", Pod("talker", "echo hello 1; echo hello 2; echo hello 3; i=0; while true; do sleep 1; i=$((i+1)); echo tick $i; done"));
            _h.Server.Store.Create("pods", Pod("crasher", "echo attempt $(cat /proc/sys/kernel/random/uuid); sleep 1; exit 3"));
            await TestApiClients.WaitUntilAsync(() => _h.Phase("talker") == "Running", "talker runs", 90);

            var plain = await KubectlAsync("logs", "talker");
            Assert.StartsWith("hello 1\nhello 2\nhello 3\n", plain);
            Assert.Single((await KubectlAsync("logs", "talker", "--tail", "1")).TrimEnd('\n').Split('\n'));
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z hello 1$", (await KubectlAsync("logs", "talker", "--timestamps")).Split('\n')[0]);
            Assert.StartsWith("hello 1\n", await KubectlAsync("logs", "talker", "--since", "1h"));
            Assert.Equal("hel", await KubectlAsync("logs", "talker", "--limit-bytes", "3"));

            // -f: a line the container writes after kubectl started arrives on the open stream.
            using (var follow = Kubectl(["logs", "-f", "talker"]))
            {
                var seen = new List<string>();
                var deadline = DateTime.UtcNow.AddSeconds(30);
                string? first = null;
                while (DateTime.UtcNow < deadline)
                {
                    var line = await follow.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));
                    if (line is null) break;
                    seen.Add(line);
                    if (!line.StartsWith("tick", StringComparison.Ordinal)) continue;
                    first ??= plain.Contains(line + "\n", StringComparison.Ordinal) ? null : line;
                    if (first is not null) break;
                }
                follow.Kill();
                Assert.True(first is not null, $"no new line on the followed stream; saw: {string.Join(" | ", seen)}");
            }

            // Output ending without a newline: containerd writes it as a P line when the container's stdout closes; kubelet
            // prints it as it is, on the followed stream too (which ends with the container).
            _h.Server.Store.Create("pods", Pod("unended", "echo start; sleep 8; printf 'a\\\\nb-without-newline'", "Never"));
            await TestApiClients.WaitUntilAsync(() => _h.Phase("unended") == "Running", "unended runs", 90);
            using (var follow = Kubectl(["logs", "-f", "unended"]))
            {
                var followed = follow.StandardOutput.ReadToEndAsync();
                await follow.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
                Assert.Equal("start\na\nb-without-newline", await followed);
            }
            Assert.Equal("start\na\nb-without-newline", await KubectlAsync("logs", "unended"));

            // --previous after a restart: the log of the container that exited.
            await TestApiClients.WaitUntilAsync(() => (int?)_h.Server.Store.Get("pods", "default", "crasher")?["status"]?["containerStatuses"]?[0]?["restartCount"] >= 1,
                "crasher restarted", 90);
            var previous = await KubectlAsync("logs", "crasher", "--previous");
            Assert.StartsWith("attempt ", previous);

            Assert.Equal("ok", await KubectlAsync("get", "--raw", $"/api/v1/nodes/{Node}/proxy/healthz"));
            var pods = JsonNode.Parse(await KubectlAsync("get", "--raw", $"/api/v1/nodes/{Node}/proxy/pods"))!;
            Assert.Equal("PodList", (string?)pods["kind"]);
            Assert.Contains(pods["items"]!.AsArray(), p => (string?)p!["metadata"]!["name"] == "talker");
            var configz = JsonNode.Parse(await KubectlAsync("get", "--raw", $"/api/v1/nodes/{Node}/proxy/configz"))!;
            Assert.Equal(ca, (string?)configz["kubeletconfig"]!["authentication"]!["x509"]!["clientCAFile"]);
            var metrics = await KubectlAsync("get", "--raw", $"/api/v1/nodes/{Node}/proxy/metrics");
            Assert.Contains($"kubelet_node_name{{node=\"{Node}\"}} 1", metrics);
            Assert.Matches(@"kubelet_running_pods [12]\n", metrics);

            // The plain-HTTP healthz port.
            using var http = new HttpClient();
            Assert.Equal("ok", await http.GetStringAsync($"http://127.0.0.1:{agent.Agent.Server!.HealthzPort}/healthz"));
        });
    }
}
