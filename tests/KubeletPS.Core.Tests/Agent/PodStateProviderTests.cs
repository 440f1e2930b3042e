using k8s.Models;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Pods.Gc;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Tests.Pods;
using KubeletPS.Core.Tests.Support;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>
/// The agent's pod state provider (kubelet's podWorkers as the container collector's podStateProvider) over the fake
/// runtime: a running pod, an evicted pod its source still lists, a pod that finished and a pod nobody knows; then
/// container GC removes the evicted pod's containers, sandbox and directory while its status stays Failed/Evicted.
/// </summary>
public sealed class PodStateProviderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kps-podstates-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }

    [Fact]
    public async Task An_evicted_pod_still_listed_by_its_source_has_its_content_removed_and_keeps_its_Failed_Evicted_status()
    {
        var manifests = Directory.CreateDirectory(Path.Combine(_root, "manifests")).FullName;
        File.WriteAllText(Path.Combine(manifests, "running.yaml"), FakeRuntimeAgent.Manifest("running", "restartPolicy: Always", "terminationGracePeriodSeconds: 2"));
        File.WriteAllText(Path.Combine(manifests, "evicted.yaml"), FakeRuntimeAgent.Manifest("evicted", "restartPolicy: Always", "terminationGracePeriodSeconds: 2"));
        File.WriteAllText(Path.Combine(manifests, "done.yaml"), FakeRuntimeAgent.Manifest("done", "restartPolicy: Never", "terminationGracePeriodSeconds: 2"));
        var services = FakeRuntimeAgent.Runtime();
        var runtime = services.Runtime;
        var log = new RecordingLog();
        await using var agent = new PodSyncAgent(FakeRuntimeAgent.Options(_root, manifests, services, log) with { SyncFrequency = TimeSpan.FromSeconds(1) });
        using var stop = new CancellationTokenSource();
        var run = agent.RunAsync(stop.Token);
        try
        {
            V1Pod? Pod(string name) => agent.Pods.FirstOrDefault(p => p.Name() == $"{name}-node1");
            string Uid(string name) => Pod(name)!.Metadata.Uid;
            await TestApiClients.WaitUntilAsync(() => new[] { "running", "evicted", "done" }.All(n => Pod(n)?.Status?.Phase == "Running"), "the three pods run", 30);

            runtime.ExitContainer(runtime.Containers.Single(c => c.Spec.Labels[KubeletLabels.PodUid] == Uid("done")).Id, 0);
            Assert.True(agent.EvictPod(Uid("evicted"), "The node was low on resource: ephemeral-storage. "));
            await TestApiClients.WaitUntilAsync(() => Pod("done")?.Status?.Phase == "Succeeded" && Pod("evicted")?.Status?.Phase == "Failed", "done Succeeded, evicted Failed", 30);
            await TestApiClients.WaitUntilAsync(() => agent.PodStates.ShouldPodRuntimeBeRemoved(Uid("evicted")) && agent.PodStates.ShouldPodRuntimeBeRemoved(Uid("done")),
                "both finished pods terminated (nothing running)", 30);

            // The table: (pod, ShouldPodContentBeRemoved, ShouldPodRuntimeBeRemoved) as kubelet's pod workers answer.
            var table = new (string Uid, bool Content, bool Runtime)[]
            {
                (Uid("running"), false, false),
                (Uid("evicted"), true, true),
                (Uid("done"), false, true),
                ("0b5e8d3c-unknown-to-every-source", true, true),
            };
            Assert.Equal(table, table.Select(row => (row.Uid, agent.PodStates.ShouldPodContentBeRemoved(row.Uid), agent.PodStates.ShouldPodRuntimeBeRemoved(row.Uid))).ToArray());

            var evicted = Uid("evicted");
            var podDir = Path.Combine(_root, "kubelet", "pods", evicted);
            Assert.True(Directory.Exists(podDir), $"{podDir} exists before GC");
            var removals = await agent.ContainerGc.GarbageCollectAsync(GcMode.Remove, CancellationToken.None);
            var collectedAt = DateTimeOffset.UtcNow;

            Assert.All(removals, r => Assert.True(r.PodUid == evicted && r.Removed, $"{r.Kind} {r.Id} of {r.PodUid}: {r.Reason} {r.Error}"));
            Assert.DoesNotContain(runtime.Containers, c => c.Spec.Labels[KubeletLabels.PodUid] == evicted);
            Assert.DoesNotContain(runtime.Sandboxes, s => s.Spec.Uid == evicted);
            Assert.False(Directory.Exists(podDir), $"{podDir} is removed");
            // The finished pod that was not evicted keeps its dead container (kubelet keeps it for its logs), the running pod everything.
            Assert.Contains(runtime.Containers, c => c.Spec.Labels[KubeletLabels.PodUid] == Uid("done"));
            Assert.True(Directory.Exists(Path.Combine(_root, "kubelet", "pods", Uid("done"))));
            Assert.Contains(runtime.Containers, c => c.Spec.Labels[KubeletLabels.PodUid] == Uid("running") && c.State == ContainerState.Running);

            // A relist sees the removals (which wakes the worker) and a resync passes: the status stays what kubelet reported.
            await TestApiClients.WaitUntilAsync(() => agent.LastRelist > collectedAt + TimeSpan.FromSeconds(2), "two relists after the collection", 30);
            var status = Pod("evicted")!.Status!;
            Assert.Equal(("Failed", "Evicted", "The node was low on resource: ephemeral-storage. "), (status.Phase, status.Reason, status.Message));
            var container = Assert.Single(status.ContainerStatuses);
            Assert.NotNull(container.State.Terminated);
            Assert.StartsWith("fake://", container.ContainerID);
            Assert.Equal("10.0.0.1", status.HostIP);
            Assert.NotNull(status.PodIP);
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }
    }
}
