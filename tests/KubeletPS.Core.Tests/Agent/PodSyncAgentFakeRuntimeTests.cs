using KubeletPS.Core.Agent;
using KubeletPS.Core.Tests.Pods;
using KubeletPS.Core.Tests.Support.Fakes;
using Xunit.Abstractions;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>
/// The whole pod engine (static pod source, PLEG, workers, runtime manager) over the fake runtime:
/// the CRI calls a new pod costs, counted per operation (the "calls per new pod").
/// </summary>
public sealed class PodSyncAgentFakeRuntimeTests(ITestOutputHelper output)
{
    private static string Manifest(string name) => $"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {name}
        spec:
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: busybox:1.36
            imagePullPolicy: IfNotPresent
            command: ["sleep", "3600"]
        """;

    [Fact]
    public async Task New_pods_cost_one_sandbox_one_create_one_start_and_one_image_check_each()
    {
        const int pods = 10;
        var root = Path.Combine(Path.GetTempPath(), "kps-agentfake-" + Guid.NewGuid().ToString("N")[..8]);
        var manifests = Directory.CreateDirectory(Path.Combine(root, "manifests")).FullName;
        try
        {
            for (var i = 0; i < pods; i++) File.WriteAllText(Path.Combine(manifests, $"p{i}.yaml"), Manifest($"p{i}"));
            var runtime = new FakeRuntimeService();
            var images = new FakeImageService(runtime.Calls);
            images.AddImage("busybox:1.36");
            var log = new RecordingLog();
            await using var agent = new PodSyncAgent(new PodSyncAgentOptions
            {
                NodeName = "node1",
                NodeIp = "10.0.0.1",
                StaticPodPath = manifests,
                RuntimeServices = (runtime, images),
                RootDirectory = Path.Combine(root, "kubelet"),
                PodLogsDirectory = Path.Combine(root, "logs"),
                ResolvConf = null,
                Log = log,
            });
            var result = await agent.SyncOnceAsync(TimeSpan.FromSeconds(60));

            Assert.True(result.Settled, log.ToString());
            Assert.Equal(pods, result.Pods.Count(p => p.Status?.Phase == "Running"));
            var calls = runtime.Operations.Snapshot().ToDictionary(o => o.Operation, o => o.Calls);
            foreach (var (operation, count) in calls.OrderBy(c => c.Key, StringComparer.Ordinal))
                output.WriteLine($"{operation,-18} {count,4} ({(double)count / pods:0.##} per pod)");
            output.WriteLine($"total {calls.Values.Sum()} calls for {pods} pods ({(double)calls.Values.Sum() / pods:0.##} per pod, the relists included)");
            // What kubelet makes per new pod: RunPodSandbox, PodSandboxStatus, the image check, CreateContainer, StartContainer.
            Assert.Equal(pods, calls["RunPodSandbox"]);
            Assert.Equal(pods, calls["CreateContainer"]);
            Assert.Equal(pods, calls["StartContainer"]);
            Assert.Equal(pods, calls["ImageStatus"]);
            Assert.False(calls.ContainsKey("PullImage"));
            Assert.False(calls.ContainsKey("StopContainer"));
            Assert.False(calls.ContainsKey("StopPodSandbox"));
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); }
            catch (IOException) { }
        }
    }
}
