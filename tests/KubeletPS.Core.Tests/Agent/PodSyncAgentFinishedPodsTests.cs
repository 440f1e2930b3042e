using k8s.Models;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Tests.Pods;
using KubeletPS.Core.Tests.Support;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>
/// Which pods have finished, as the agent's per-pod checks read it from the workers (host-port admission here; the
/// QoS cgroups and the eviction manager read the same): a pod on a host port keeps it from a new pod while it runs,
/// and frees it once it has Succeeded.
/// </summary>
public sealed class PodSyncAgentFinishedPodsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kps-finished-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }

    private static string PortPod(string name) =>
        $"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: busybox:1.36\n" +
        "    imagePullPolicy: IfNotPresent\n    command: [\"sleep\", \"3600\"]\n    ports: [{containerPort: 80, hostPort: 8080}]\n";

    [Fact]
    public async Task A_host_port_is_refused_to_a_new_pod_while_its_pod_runs_and_admitted_once_that_pod_succeeded()
    {
        var manifests = Directory.CreateDirectory(Path.Combine(_root, "manifests")).FullName;
        File.WriteAllText(Path.Combine(manifests, "a.yaml"), PortPod("a"));
        var services = FakeRuntimeAgent.Runtime();
        var runtime = services.Runtime;
        var log = new RecordingLog();
        await using var agent = new PodSyncAgent(FakeRuntimeAgent.Options(_root, manifests, services, log));
        using var stop = new CancellationTokenSource();
        var run = agent.RunAsync(stop.Token);
        try
        {
            V1Pod? Pod(string name) => agent.Pods.FirstOrDefault(p => p.Name() == $"{name}-node1");
            bool HasSandbox(string name) => runtime.Sandboxes.Any(s => s.Spec.Name == $"{name}-node1");
            await TestApiClients.WaitUntilAsync(() => Pod("a")?.Status?.Phase == "Running", "a runs", 30);

            File.WriteAllText(Path.Combine(manifests, "b.yaml"), PortPod("b"));
            await TestApiClients.WaitUntilAsync(() => log.Lines.Any(l => l.Message.Contains("b-node1", StringComparison.Ordinal) && l.Message.Contains("NodePorts", StringComparison.Ordinal)),
                "b is refused the host port a holds", 30);
            Assert.False(HasSandbox("b"), log.ToString());

            var uid = Pod("a")!.Metadata.Uid;
            runtime.ExitContainer(runtime.Containers.Single(c => c.Spec.Labels[KubeletLabels.PodUid] == uid).Id, 0);
            await TestApiClients.WaitUntilAsync(() => Pod("a")?.Status?.Phase == "Succeeded", "a succeeds", 30);
            File.WriteAllText(Path.Combine(manifests, "c.yaml"), PortPod("c"));
            await TestApiClients.WaitUntilAsync(() => Pod("c")?.Status?.Phase == "Running", "c runs on the port a freed", 30);
            Assert.True(HasSandbox("c"));
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }
    }
}
