using KubeletPS.Core.NodeValidation;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Tests.Support.Fakes;

namespace KubeletPS.Core.Tests.NodeValidation;

/// <summary>The runtime checks over the fake runtime: what the runtime reports decides each check, and what to do is said.</summary>
public sealed class NodeRuntimeCheckerTests
{
    private const string ContainerdConfig =
        "{\"sandboxImage\":\"registry.k8s.io/pause:3.10\",\"containerd\":{\"defaultRuntimeName\":\"runc\",\"runtimes\":{\"runc\":{\"options\":{\"SystemdCgroup\":true}}}}}";

    private readonly FakeRuntimeService _runtime = new() { StatusInfo = new Dictionary<string, string> { ["config"] = ContainerdConfig } };
    private readonly FakeImageService _images = new();

    private async Task<IReadOnlyList<NodeCheckResult>> CheckAsync()
    {
        var report = await RuntimeConfigReport.ReadAsync(_runtime, CancellationToken.None);
        return await NodeRuntimeChecker.CheckAsync(_runtime, _images, report, CancellationToken.None);
    }

    private static NodeCheckResult Result(IReadOnlyList<NodeCheckResult> results, string name) => Assert.Single(results, r => r.Name == name);

    [Fact]
    public async Task A_ready_runtime_with_its_sandbox_image_passes_every_check()
    {
        _images.AddImage("registry.k8s.io/pause:3.10");

        var results = await CheckAsync();

        Assert.All(results, r => Assert.Equal(NodeCheckOutcome.Passed, r.Outcome));
        Assert.Contains(FakeCriCalls.Endpoint, Result(results, NodeRuntimeChecker.CriSocketReachable).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_CNI_network_and_the_sandbox_image_the_checks_fail_and_say_what_to_do()
    {
        _runtime.Status = new RuntimeStatusInfo(true, false,
            [new RuntimeConditionInfo("RuntimeReady", true, "", ""), new RuntimeConditionInfo("NetworkReady", false, "NetworkPluginNotReady", "cni plugin not initialized")]);

        var results = await CheckAsync();

        Assert.Equal(NodeCheckOutcome.Passed, Result(results, NodeRuntimeChecker.RuntimeReady).Outcome);
        var network = Result(results, NodeRuntimeChecker.NetworkReady);
        Assert.Equal(NodeCheckOutcome.Failed, network.Outcome);
        Assert.Contains("cni plugin not initialized", network.Message, StringComparison.Ordinal);
        var image = Result(results, NodeRuntimeChecker.SandboxImagePresent);
        Assert.Equal(NodeCheckOutcome.Failed, image.Outcome);
        Assert.Contains("crictl pull registry.k8s.io/pause:3.10", image.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_cgroup_driver_is_RuntimeConfigs_and_without_that_call_containerds_config()
    {
        _runtime.CgroupDriver = "cgroupfs";
        var fromCall = await RuntimeConfigReport.ReadAsync(_runtime, CancellationToken.None);
        _runtime.CgroupDriver = null;
        var fromInfo = await RuntimeConfigReport.ReadAsync(_runtime, CancellationToken.None);

        Assert.Equal(("cgroupfs", "the CRI RuntimeConfig call"), (fromCall.CgroupDriver, fromCall.Source));
        Assert.Equal("systemd", fromInfo.CgroupDriver);
        Assert.Contains("SystemdCgroup = true", fromInfo.Source, StringComparison.Ordinal);
        Assert.Equal("registry.k8s.io/pause:3.10", fromInfo.SandboxImage);
    }

    [Fact]
    public async Task A_runtime_that_does_not_answer_fails_the_socket_check_and_skips_the_rest()
    {
        _runtime.Calls.InjectErrorAlways("Version", FakeCriCalls.Error("Version", RuntimeErrorKind.ConnectionFailed, "connection refused"));

        var results = await CheckAsync();

        Assert.Equal(NodeCheckOutcome.Failed, Result(results, NodeRuntimeChecker.CriSocketReachable).Outcome);
        Assert.Contains("systemctl start containerd", Result(results, NodeRuntimeChecker.CriSocketReachable).Message, StringComparison.Ordinal);
        Assert.Equal(NodeCheckOutcome.Skipped, Result(results, NodeRuntimeChecker.RuntimeReady).Outcome);
    }
}
