using k8s.Models;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Server.Streaming;
using KubeletPS.Core.Tests.Support.Fakes;

namespace KubeletPS.Core.Tests.Server.Streaming;

/// <summary>kubelet's GetExec/GetAttach/GetPortForward/RunInContainer over the fake runtime: which container or sandbox is asked, and kubelet's errors.</summary>
public sealed class StreamingRuntimeTests
{
    private static readonly StreamingOptions Tty = new(Stdin: true, Stdout: true, Stderr: false, Tty: true);
    private readonly FakeRuntimeService _runtime = new();
    private readonly V1Pod _pod = new() { Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "shop", Uid = "uid-web" } };

    private StreamingRuntime Streaming() => new(_runtime, () => [_pod]);

    private (string SandboxId, string ContainerId) Run(string container, uint attempt = 0, ContainerState state = ContainerState.Running)
    {
        var sandbox = _runtime.Sandboxes.FirstOrDefault() ?? _runtime.AddSandbox(new PodSandboxSpec
        {
            Name = "web", Namespace = "shop", Uid = "uid-web",
            Labels = new Dictionary<string, string> { [KubeletLabels.PodUid] = "uid-web" },
        });
        var id = _runtime.AddContainer(sandbox.Id, new ContainerSpec
        {
            Name = container, Image = "busybox", Attempt = attempt,
            Labels = new Dictionary<string, string> { [KubeletLabels.PodUid] = "uid-web", [KubeletLabels.ContainerName] = container },
        }, state).Id;
        return (sandbox.Id, id);
    }

    [Fact]
    public async Task Exec_asks_the_runtime_for_the_latest_running_attempt_of_the_container()
    {
        Run("app", attempt: 0, ContainerState.Exited);
        var (_, current) = Run("app", attempt: 1);

        var url = await Streaming().GetExecAsync(_pod, "app", ["sh", "-c", "date"], Tty, CancellationToken.None);

        Assert.Equal(_runtime.StreamingServer, new Uri(url.GetLeftPart(UriPartial.Authority) + "/"));
        Assert.Equal([$"Exec {current} sh -c date"], _runtime.StreamingRequests);
    }

    [Fact]
    public async Task Attach_and_port_forward_name_the_container_and_the_ready_sandbox()
    {
        var (sandbox, container) = Run("app");

        await Streaming().GetAttachAsync(_pod, "app", Tty, CancellationToken.None);
        await Streaming().GetPortForwardAsync(_pod, [80, 443], CancellationToken.None);

        Assert.Equal([$"Attach {container}", $"PortForward {sandbox} 80,443"], _runtime.StreamingRequests);
    }

    [Fact]
    public async Task A_container_that_is_not_running_is_kubelets_container_not_found()
    {
        Run("app", state: ContainerState.Exited);

        var error = await Assert.ThrowsAsync<StreamingRequestException>(() => Streaming().GetExecAsync(_pod, "app", ["sh"], Tty, CancellationToken.None));

        Assert.Equal(500, error.StatusCode);
        Assert.Equal("container not found (\"app\")", error.Message);
        Assert.Empty(_runtime.StreamingRequests);
    }

    [Fact]
    public async Task A_runtime_error_keeps_its_grpc_status_as_the_http_status()
    {
        Run("app");
        _runtime.Calls.InjectErrorAlways("Exec", FakeCriCalls.Error("Exec", RuntimeErrorKind.Unimplemented, "exec is not supported"));

        var error = await Assert.ThrowsAsync<StreamingRequestException>(() => Streaming().GetExecAsync(_pod, "app", ["sh"], Tty, CancellationToken.None));

        Assert.Equal(501, error.StatusCode);
        Assert.Contains("exec is not supported", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_returns_stdout_then_stderr_and_a_failed_command_is_kubelets_error()
    {
        Run("app");
        _runtime.Exec = (_, command) => command[0] == "false" ? new ExecSyncResult(1, "", "bad\n") : new ExecSyncResult(0, "out\n", "err\n");

        var output = await Streaming().RunInContainerAsync(_pod, "app", ["echo"], CancellationToken.None);
        var error = await Assert.ThrowsAsync<StreamingRequestException>(() => Streaming().RunInContainerAsync(_pod, "app", ["false"], CancellationToken.None));

        Assert.Equal("out\nerr\n", System.Text.Encoding.UTF8.GetString(output));
        Assert.Equal("command 'false' exited with 1: bad\n", error.Message);
    }
}
