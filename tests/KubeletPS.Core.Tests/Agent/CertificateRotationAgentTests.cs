using System.Text.Json.Nodes;
using KubeletPS.Core.Certificates.Bootstrap;
using KubeletPS.Core.Certificates.Rotation;
using KubeletPS.Core.Tests.Certificates;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>
/// The full agent with 3-minute certificates on the private containerd: it bootstraps from a bootstrap kubeconfig alone,
/// becomes Ready, runs a pod, and rotates its client certificate while running, without a NotReady moment, a gap in
/// lease renewals or a pod restart.
/// </summary>
[Collection(KubeletAgentCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CertificateRotationAgentTests(KubeletAgentFixture fixture) : IAsyncLifetime
{
    private const string Node = "rotating-node";
    private const string User = "system:node:" + Node;
    private ApiAgentHarness _h = null!;

    // kube-controller-manager's node health monitor at its defaults (--node-monitor-grace-period 40s, --node-monitor-period 5s):
    // a lease not renewed in time during the rotation makes the node Unknown, and node-controller records NodeNotReady.
    public async Task InitializeAsync() => _h = await ApiAgentHarness.StartAsync(Node, "kubeletps-rotation-agent-", new TestApiServerOptions
    {
        BookmarkInterval = TimeSpan.FromSeconds(1), ClientCertificateTtl = TimeSpan.FromMinutes(3), Pki = KubeletPS.Core.Tests.TestCluster.TestObjects.SharedPki,
        NodeMonitorGracePeriod = TimeSpan.FromSeconds(40),
    });

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private static JsonObject Pod(string name) => JsonNode.Parse("""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME","namespace":"default"},
         "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":5,"containers":[{"name":"main","image":"kubeletps.local/busybox:latest",
           "imagePullPolicy":"IfNotPresent","command":["sh","-c","trap 'exit 0' TERM; while true; do sleep 1; done"]}]}}
        """.Replace("NAME", name).Replace("NODE", Node))!.AsObject();

    private JsonNode? ReadyCondition() =>
        _h.NodeObject()?["status"]?["conditions"]?.AsArray().FirstOrDefault(c => (string?)c?["type"] == "Ready");

    [Fact]
    public async Task A_node_with_only_a_bootstrap_kubeconfig_becomes_Ready_and_rotates_while_running_a_pod_without_NotReady_lease_gap_or_restart()
    {
        var kubeconfig = _h.KubeconfigPath;
        var pki = _h.CertificateDirectory;
        var progress = new List<CertificateBootstrapStage>();
        var agent = await _h.CreateAgentAsync(fixture.Containerd, "rotateCertificates: true\n", bootstrap: true,
            configure: r => r with { Node = r.Node with { BootstrapProgress = p => { lock (progress) progress.Add(p.Stage); } } });
        Assert.Contains(CertificateBootstrapStage.Requesting, progress);
        Assert.Contains(CertificateBootstrapStage.Done, progress);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(kubeconfig));
        var link = Path.Combine(pki, "kubelet-client-current.pem");
        var first = new FileInfo(link).LinkTarget!;
        var manager = agent.Context.Certificates.ClientManager ?? throw new Xunit.Sdk.XunitException("rotateCertificates: true made no client certificate manager");
        var oldSerial = agent.Context.Certificates.Client!.Current.SerialNumber;
        var rotated = new TaskCompletionSource<(KubeletCertificateRotation Rotation, DateTimeOffset At)>(TaskCreationOptions.RunContinuationsAsynchronously);
        manager.Rotated += r => rotated.TrySetResult((r, DateTimeOffset.UtcNow));

        await using var running = RunningAgent.Start(agent, _h.Log);
        await running.RunAsync(async () =>
        {
            await TestApiClients.WaitUntilAsync(() => (string?)ReadyCondition()?["status"] == "True", "the bootstrapped node is Ready", 60);
            var readySince = (string?)ReadyCondition()!["lastTransitionTime"];
            _h.Server.Store.Create("pods", Pod("steady"));
            await TestApiClients.WaitUntilAsync(() => (string?)_h.Server.Store.Get("pods", "default", "steady")?["status"]?["phase"] == "Running", "the pod runs", 90);
            var containerId = (string?)_h.Server.Store.Get("pods", "default", "steady")!["status"]!["containerStatuses"]![0]!["containerID"];

            // 3-minute certificates backdated 5 minutes: the deadline is 0.6 to 2.2 minutes after issuance.
            var (rotation, swappedAt) = await rotated.Task.WaitAsync(TimeSpan.FromMinutes(4));
            Assert.NotEqual(oldSerial, rotation.SerialNumber);
            Assert.NotEqual(first, rotation.CertificateFile);
            Assert.Equal(rotation.CertificateFile, new FileInfo(link).LinkTarget);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(rotation.CertificateFile));

            // After the swap the agent's lease renewals, node status and pod watch reach the server with the new certificate.
            await TestApiClients.WaitUntilAsync(() => _h.Server.RequestLog.Entries.Any(e => e.User == User && e.Verb == "update" && e.Resource == "leases"
                && e.ClientCertificateSerial == rotation.SerialNumber && e.StatusCode == 200), "a lease renewal with the new certificate", 30);
            // The pod watch opened with the old certificate ended at the swap (a watch is logged when it ends) ...
            await TestApiClients.WaitUntilAsync(() => _h.Server.RequestLog.Entries.Any(e => e.User == User && e.Verb == "watch" && e.Resource == "pods"
                && e.ClientCertificateSerial == oldSerial && e.Time >= swappedAt.AddSeconds(-1)), "the old pod watch ended at the swap", 30);
            // ... and the agent watches again, from its resourceVersion: a pod created now starts, and pods were not listed again.
            _h.Server.Store.Create("pods", Pod("after-swap"));
            await TestApiClients.WaitUntilAsync(() => (string?)_h.Server.Store.Get("pods", "default", "after-swap")?["status"]?["phase"] == "Running",
                "a pod created after the swap runs", 90);
            Assert.DoesNotContain(_h.Server.RequestLog.Entries, e => e.User == User && e.Verb == "list" && e.Resource == "pods" && e.Time > swappedAt);
            var entries = _h.Server.RequestLog.Entries.Where(e => e.User == User).ToList();
            var lateOld = entries.Where(e => e.Time > swappedAt.AddSeconds(10) && e.ClientCertificateSerial == oldSerial).ToList();
            Assert.True(lateOld.Count == 0, "requests with the old certificate after the swap: " + string.Join(", ", lateOld.Select(e => $"{e.Verb} {e.Resource} at {e.Time:O}")));

            // The lease kept being renewed across the rotation: its renewTime moved on after the swap, and the node health
            // monitor never found it stale (no NodeNotReady from node-controller, Ready still True since it first was).
            Assert.True(DateTimeOffset.Parse((string)_h.Server.Store.Get("leases", "kube-node-lease", Node)!["spec"]!["renewTime"]!, System.Globalization.CultureInfo.InvariantCulture) > swappedAt,
                "the lease was not renewed after the swap");
            var notReady = _h.Server.Store.List("events", "default").Where(e => (string?)e["reason"] == "NodeNotReady" && (string?)e["involvedObject"]?["name"] == Node).ToList();
            Assert.True(notReady.Count == 0, "the node went Unknown during the rotation: " + string.Join("; ", notReady.Select(e => $"{e["message"]} at {e["lastTimestamp"]}")));
            Assert.Equal(("True", readySince), ((string?)ReadyCondition()!["status"], (string?)ReadyCondition()!["lastTransitionTime"]));
            var container = _h.Server.Store.Get("pods", "default", "steady")!["status"]!["containerStatuses"]![0]!;
            Assert.Equal((0, containerId), ((int?)container["restartCount"], (string?)container["containerID"]));

            var text = string.Join("\n", _h.Log.Lines);
            Assert.DoesNotContain("PRIVATE KEY", text);
            foreach (var line in PkiFixture.KeyLines(rotation.CertificateFile).Concat(PkiFixture.KeyLines(Path.Combine(pki, first)))) Assert.DoesNotContain(line, text);
        });
    }
}
