using k8s.Models;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Metrics;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Tests.Pods;
using KubeletPS.Core.Tests.Support;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>
/// The periodic resync over the fake runtime: as kubelet's workers, which take a pod's runtime state
/// from PLEG's cache, a resync with no change reported asks the runtime nothing about the pod; a
/// change PLEG reports is still read and acted on.
/// </summary>
public sealed class PodSyncAgentResyncTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kps-resync-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }

    [Fact]
    public async Task A_resync_with_no_change_reads_nothing_of_the_pod_from_the_runtime_and_a_reported_exit_is_still_acted_on()
    {
        var manifests = Directory.CreateDirectory(Path.Combine(_root, "manifests")).FullName;
        string[] names = ["a", "b", "c"];
        foreach (var name in names) File.WriteAllText(Path.Combine(manifests, $"{name}.yaml"), FakeRuntimeAgent.Manifest(name, "terminationGracePeriodSeconds: 2"));
        var services = FakeRuntimeAgent.Runtime();
        var runtime = services.Runtime;
        var metrics = new KubeletMetricSet();
        var log = new RecordingLog();
        await using var agent = new PodSyncAgent(FakeRuntimeAgent.Options(_root, manifests, services, log) with { SyncFrequency = TimeSpan.FromMilliseconds(200), Metrics = metrics });
        using var stop = new CancellationTokenSource();
        var run = agent.RunAsync(stop.Token);
        try
        {
            V1Pod? Pod(string name) => agent.Pods.FirstOrDefault(p => p.Name() == $"{name}-node1");
            await TestApiClients.WaitUntilAsync(() => names.All(n => Pod(n)?.Status?.Phase == "Running"), "the three pods run", 30);

            // Three resyncs of each pod with nothing changed in the runtime.
            runtime.Calls.Clear();
            var syncs = metrics.PodWorkerDuration.Count("sync");
            await TestApiClients.WaitUntilAsync(() => metrics.PodWorkerDuration.Count("sync") >= syncs + 3 * names.Length, "three resyncs of each pod", 30);
            var called = runtime.Calls.Called;
            Assert.DoesNotContain("PodSandboxStatus", called);
            Assert.DoesNotContain("ContainerStatus", called);
            Assert.DoesNotContain("RunPodSandbox", called);
            Assert.DoesNotContain("CreateContainer", called);

            // PLEG reports the exit: the worker reads the pod and restarts its container (restartPolicy Always).
            var uid = Pod("b")!.Metadata.Uid;
            runtime.ExitContainer(runtime.Containers.Single(c => c.Spec.Labels[KubeletLabels.PodUid] == uid).Id, 1);
            await TestApiClients.WaitUntilAsync(() => Pod("b")?.Status?.ContainerStatuses?.SingleOrDefault()?.RestartCount == 1, "b's container restarted once", 30);
            Assert.Contains("ContainerStatus", runtime.Calls.Called);
            Assert.Contains("CreateContainer", runtime.Calls.Called);
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }
    }
}
