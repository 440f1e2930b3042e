using KubeletPS.Core.Agent;
using KubeletPS.Core.Tests.Pods;
using KubeletPS.Core.Tests.Support;
using KubeletPS.Core.Tests.Support.Fakes;
using Xunit.Abstractions;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>
/// The whole pod engine (static pod source, PLEG, workers, runtime manager) over the fake runtime:
/// the CRI calls a new pod costs, counted per operation (the issue's "calls per new pod").
/// </summary>
public sealed class PodSyncAgentFakeRuntimeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task New_pods_cost_one_sandbox_one_create_one_start_and_one_image_check_each()
    {
        const int pods = 10;
        var (runtime, result, log) = await StartStaticPodsAsync(pods, name => FakeRuntimeAgent.Manifest(name, "terminationGracePeriodSeconds: 2"));

        Assert.True(result.Settled, log.ToString());
        Assert.Equal(pods, result.Pods.Count(p => p.Status?.Phase == "Running"));
        var calls = Report(runtime, pods);
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

    [Fact]
    public async Task The_agent_warms_up_the_pod_path_on_its_sample_without_a_runtime_call_or_a_file_for_it()
    {
        var (runtime, result, log) = await StartStaticPodsAsync(1, name => FakeRuntimeAgent.Manifest(name));

        Assert.True(result.Settled, log.ToString());
        // The sample decoded, defaulted and validated as a static pod (a warning would say the first pods start without it).
        Assert.Contains(log.Lines, l => l.Level == KubeletLogLevel.Debug && l.Message.StartsWith("pod path warmed up in ", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Lines, l => l.Message.Contains("warm-up failed", StringComparison.Ordinal));
        // Pure: the runtime saw only the real pod, and nothing was asked of it for the sample.
        Assert.Equal(["p0-node1"], runtime.Sandboxes.Select(s => s.Spec.Name).ToArray());
        Assert.Equal((1, 1), (runtime.Calls.Count("RunPodSandbox"), runtime.Calls.Count("CreateContainer")));
    }

    [Fact]
    public void The_warm_up_sample_is_a_valid_static_pod_with_an_init_container_probes_and_volumes()
    {
        var pod = new KubeletPS.Core.Pods.Config.StaticPodSource(Path.GetTempPath(), "node1", TimeSpan.FromMinutes(1)).DecodePod(PodPathWarmup.SampleManifest, "(sample)");
        Assert.Equal("warmup-node1", pod.Metadata.Name);
        Assert.Single(pod.Spec.InitContainers);
        Assert.NotNull(pod.Spec.Containers[0].ReadinessProbe);
        Assert.NotNull(pod.Spec.Containers[0].LivenessProbe);
        Assert.Equal(["scratch", "config"], pod.Spec.Volumes.Select(v => v.Name).ToArray());
        // The whole warm-up runs on it (it throws on a sample that does not decode or a step that fails).
        PodPathWarmup.Run("node1", new KubeletPS.Core.Pods.Status.PodStatusGenerator("containerd", "10.0.0.1"));
    }

    /// <summary>Starts <paramref name="pods"/> static pods (p0, p1…) over the fake runtime, the image present, and waits until they settle.</summary>
    private static async Task<(FakeRuntimeService Runtime, PodSyncOnceResult Result, RecordingLog Log)> StartStaticPodsAsync(int pods, Func<string, string> manifest)
    {
        var root = Path.Combine(Path.GetTempPath(), "kps-agentfake-" + Guid.NewGuid().ToString("N")[..8]);
        var manifests = Directory.CreateDirectory(Path.Combine(root, "manifests")).FullName;
        try
        {
            for (var i = 0; i < pods; i++) File.WriteAllText(Path.Combine(manifests, $"p{i}.yaml"), manifest($"p{i}"));
            var services = FakeRuntimeAgent.Runtime();
            var runtime = services.Runtime;
            var log = new RecordingLog();
            await using var agent = new PodSyncAgent(FakeRuntimeAgent.Options(root, manifests, services, log));
            return (runtime, await agent.SyncOnceAsync(TimeSpan.FromSeconds(60)), log);
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); }
            catch (IOException) { }
        }
    }

    /// <summary>The calls so far by operation, written to the test output with their count per pod.</summary>
    private Dictionary<string, long> Report(FakeRuntimeService runtime, int pods)
    {
        var calls = runtime.Operations.Snapshot().ToDictionary(o => o.Operation, o => o.Calls);
        foreach (var (operation, count) in calls.OrderBy(c => c.Key, StringComparer.Ordinal))
            output.WriteLine($"{operation,-18} {count,4} ({(double)count / pods:0.##} per pod)");
        return calls;
    }

    private static string ManifestWithContainers(string name, int containers) =>
        $"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  terminationGracePeriodSeconds: 2\n  containers:\n"
        + string.Concat(Enumerable.Range(0, containers).Select(i =>
            $"  - name: c{i}\n    image: busybox:1.36\n    imagePullPolicy: IfNotPresent\n    command: [\"sleep\", \"3600\"]\n"));

    /// <summary>
    /// Kubelet's calls for a new pod with C containers and its image present (IfNotPresent):
    /// RunPodSandbox and PodSandboxStatus (the IP) once, and per container ImageStatus, CreateContainer,
    /// StartContainer, and the one ContainerStatus its GetPodStatus makes after PLEG reports the start.
    /// ListPodSandbox and ListContainers come only from PLEG's relist of the whole node, shared by all pods:
    /// none is filtered to one pod.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task New_pods_make_at_most_kubelets_calls_per_rpc_and_list_the_runtime_only_in_relists(int containers)
    {
        const int pods = 10;
        var (runtime, result, log) = await StartStaticPodsAsync(pods, name => ManifestWithContainers(name, containers));

        Assert.True(result.Settled, log.ToString());
        var running = result.Pods.Where(p => p.Status?.Phase == "Running").ToList();
        Assert.Equal(pods, running.Count);
        // The statuses carry the runtime's own start times, read back, not assumed.
        foreach (var status in running.SelectMany(p => p.Status.ContainerStatuses))
        {
            var container = Assert.Single(runtime.Containers, c => status.ContainerID.EndsWith("://" + c.Id, StringComparison.Ordinal));
            Assert.Equal(container.StartedAt!.Value.UtcDateTime, status.State.Running.StartedAt!.Value.ToUniversalTime(), TimeSpan.FromSeconds(1));
        }
        var calls = Report(runtime, pods);
        output.WriteLine($"lists filtered to one pod: {runtime.ListsOfOnePod}");
        var kubelet = new Dictionary<string, int>
        {
            ["RunPodSandbox"] = 1, ["PodSandboxStatus"] = 1, ["ImageStatus"] = containers,
            ["CreateContainer"] = containers, ["StartContainer"] = containers, ["ContainerStatus"] = containers,
        };
        foreach (var (operation, perPod) in kubelet)
            Assert.True(calls.GetValueOrDefault(operation) <= perPod * pods, $"{operation}: {calls.GetValueOrDefault(operation)} calls for {pods} pods, kubelet makes {perPod} per pod");
        Assert.Equal(0, runtime.ListsOfOnePod);
        // Each relist is one ListPodSandbox and one ListContainers; besides, image GC's first detection
        // (kubelet's image manager Start) lists the images and the containers using them, once.
        Assert.InRange(calls.GetValueOrDefault("ListContainers") - calls.GetValueOrDefault("ListPodSandbox"), 0, 1);
        Assert.True(calls.GetValueOrDefault("ListImages") <= 1, $"ListImages: {calls.GetValueOrDefault("ListImages")} calls");
        // At start, once: Version and Status, and RuntimeConfig (kubelet asks the runtime its cgroup driver; image GC its sandbox image).
        Assert.True(calls.GetValueOrDefault("RuntimeConfig") <= 2, $"RuntimeConfig: {calls.GetValueOrDefault("RuntimeConfig")} calls");
        var expected = kubelet.Keys.Concat(["ListPodSandbox", "ListContainers", "ListImages", "Version", "Status", "RuntimeConfig"]).ToHashSet();
        Assert.DoesNotContain(calls.Keys, k => !expected.Contains(k));
    }
}
