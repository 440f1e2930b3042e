using System.Text;
using k8s.Models;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Server;
using KubeletPS.Core.Tests.Support.Fakes;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Server.Endpoints;

/// <summary>/containerLogs over the fake runtime (the server takes <see cref="IRuntimeService"/>): what only containerd could show before.</summary>
public sealed class ContainerLogsFakeRuntimeTests : IAsyncLifetime
{
    private readonly FakeRuntimeService _runtime = new();
    private TestApiServer _api = null!;
    private string _logs = null!;

    public async Task InitializeAsync()
    {
        _api = await TestApiServer.StartAsync();
        _logs = Directory.CreateTempSubdirectory("kubeletps-logs-fake-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        Directory.Delete(_logs, true);
    }

    /// <summary>A running container "main" of pod shop/web whose CRI log file is main/0.log under the sandbox's log directory.</summary>
    private (V1Pod Pod, string ContainerId, string LogFile) RunningContainer()
    {
        var sandbox = _runtime.AddSandbox(new PodSandboxSpec { Name = "web", Namespace = "shop", Uid = "uid-web", LogDirectory = _logs });
        var container = _runtime.AddContainer(sandbox.Id, new ContainerSpec { Name = "main", Image = "busybox", LogPath = "main/0.log" }, ContainerState.Running);
        var logFile = Path.Combine(_logs, "main", "0.log");
        Directory.CreateDirectory(Path.GetDirectoryName(logFile)!);
        File.WriteAllText(logFile, "");
        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "shop", Uid = "uid-web" },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "main", Image = "busybox" }] },
            Status = new V1PodStatus
            {
                ContainerStatuses =
                [
                    new V1ContainerStatus
                    {
                        Name = "main", Image = "busybox", ImageID = "busybox", ContainerID = "containerd://" + container.Id, Ready = true,
                        State = new V1ContainerState { Running = new V1ContainerStateRunning() },
                    },
                ],
            },
        };
        return (pod, container.Id, logFile);
    }

    private static void AppendCriLine(string logFile, string line) =>
        File.AppendAllText(logFile, $"{DateTimeOffset.UtcNow:yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'} stdout F {line}\n");

    [Fact]
    public async Task A_followed_log_ends_with_the_last_lines_when_the_container_exits()
    {
        var (pod, containerId, logFile) = RunningContainer();
        AppendCriLine(logFile, "first");
        await using var host = await KubeletServerTestHost.StartAsync(_api, o => o with { AuthorizationMode = "AlwaysAllow" },
            c => new KubeletServerContext { Options = c.Options, Client = c.Client, Identity = c.Identity, Runtime = _runtime, Pods = () => [pod] });
        using var client = host.Client(_api.IssueClientCertificate("kube-apiserver-kubelet-client", "system:masters"));
        // The stream must end by itself; this only bounds a hang so the test fails instead of blocking the run.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        using var response = await client.GetAsync("/containerLogs/shop/web/main?follow=true", HttpCompletionOption.ResponseHeadersRead, bound.Token);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync(bound.Token);
        var received = new StringBuilder();
        var buffer = new byte[4096];
        while (!received.ToString().Contains("first\n", StringComparison.Ordinal))
        {
            var read = await body.ReadAsync(buffer, bound.Token);
            Assert.True(read > 0, $"the followed stream ended while the container runs: \"{received}\"");
            received.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }
        AppendCriLine(logFile, "last");
        _runtime.ExitContainer(containerId, 0);

        int n;
        while ((n = await body.ReadAsync(buffer, bound.Token)) > 0) received.Append(Encoding.UTF8.GetString(buffer, 0, n));

        Assert.False(bound.IsCancellationRequested);
        Assert.Equal("first\nlast\n", received.ToString());
        // The first ContainerStatus finds the log file and the running state; the watcher's later ones see the exit.
        Assert.True(_runtime.Operations.Snapshot().Single(o => o.Operation == "ContainerStatus").Calls >= 2);
    }

    [Fact]
    public async Task A_container_the_runtime_no_longer_has_is_kubelets_400_with_the_runtime_error()
    {
        var (pod, _, _) = RunningContainer();
        var gone = pod.Status.ContainerStatuses[0];
        gone.ContainerID = "containerd://" + new string('f', 64);
        await using var host = await KubeletServerTestHost.StartAsync(_api, o => o with { AuthorizationMode = "AlwaysAllow" },
            c => new KubeletServerContext { Options = c.Options, Client = c.Client, Identity = c.Identity, Runtime = _runtime, Pods = () => [pod] });
        using var client = host.Client(_api.IssueClientCertificate("kube-apiserver-kubelet-client", "system:masters"));

        var response = await client.GetAsync("/containerLogs/shop/web/main");

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.StartsWith($"failed to get container status {new string('f', 64)}: ", text);
        Assert.Contains("not found", text);
    }
}
