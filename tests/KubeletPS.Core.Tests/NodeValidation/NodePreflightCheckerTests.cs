using KubeletPS.Core.Configuration;
using KubeletPS.Core.NodeValidation;

namespace KubeletPS.Core.Tests.NodeValidation;

/// <summary>The preflight checks against a /proc, /sys and PATH of the test's own making.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class NodePreflightCheckerTests : IDisposable
{
    private const string SwapsHeader = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
    private const string TcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    private readonly string _root = Directory.CreateTempSubdirectory("kps-preflight-").FullName;
    private readonly string _bin;

    public NodePreflightCheckerTests()
    {
        _bin = Path.Combine(_root, "bin");
        Directory.CreateDirectory(_bin);
        // A healthy node: root, no swap, bridge netfilter and forwarding on, overlay, every binary.
        Write("proc/self/status", "Name:\tpwsh\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n");
        Write("proc/swaps", SwapsHeader);
        Write("proc/sys/net/bridge/bridge-nf-call-iptables", "1\n");
        Write("proc/sys/net/ipv4/ip_forward", "1\n");
        Write("proc/net/tcp", TcpHeader);
        Write("proc/filesystems", "nodev\tsysfs\nnodev\toverlay\n");
        Directory.CreateDirectory(Path.Combine(_root, "sys/module/br_netfilter"));
        foreach (var binary in NodePreflightChecker.MandatoryBinaries.Concat(NodePreflightChecker.WarningBinaries).Append("containerd").Append("runc"))
        {
            Executable(binary);
        }
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private NodeHost Host => new()
    {
        ProcRoot = Path.Combine(_root, "proc"),
        SysRoot = Path.Combine(_root, "sys"),
        SearchPath = [_bin],
        ProcessId = 4242,
    };

    private static readonly RuntimeConfigReport CgroupfsRuntime = new("cgroupfs", "registry.k8s.io/pause:3.10", "containerd's config: runtime 'runc' SystemdCgroup = false", null);

    private void Write(string relative, string content)
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private void Executable(string name)
    {
        var path = Path.Combine(_bin, name);
        File.WriteAllText(path, "#!/bin/sh\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private NodeCheckResult Run(string name, KubeletConfiguration? configuration = null, RuntimeConfigReport? runtime = null) =>
        NodePreflightChecker.Check(Host, configuration ?? KubeletConfigurationFile.Defaults(), "/var/lib/kubelet/config.yaml", runtime ?? CgroupfsRuntime)
            .Single(c => c.Name == name);

    [Fact]
    public void A_healthy_node_passes_every_check()
    {
        var results = NodePreflightChecker.Check(Host, KubeletConfigurationFile.Defaults(), null, CgroupfsRuntime);

        Assert.All(results, r => Assert.True(r.Outcome == NodeCheckOutcome.Passed, $"{r.Name}: {r.Outcome}: {r.Message}"));
        Assert.Equal(11, results.Count);
    }

    [Fact]
    public void Swap_on_with_failSwapOn_fails_and_says_how_to_turn_it_off()
    {
        Write("proc/swaps", SwapsHeader + "/dev/sda2                               partition\t2097148\t\t0\t\t-2\n");

        var swap = Run(NodePreflightChecker.Swap);

        Assert.Equal(NodeCheckOutcome.Failed, swap.Outcome);
        Assert.Equal("swap is on (/dev/sda2) and failSwapOn is true: run 'swapoff -a' and remove swap from /etc/fstab, or set failSwapOn: false in /var/lib/kubelet/config.yaml.", swap.Message);
    }

    [Fact]
    public void Swap_on_passes_when_failSwapOn_is_false()
    {
        Write("proc/swaps", SwapsHeader + "/swapfile file 1024 0 -2\n");
        var configuration = KubeletConfigurationFile.Defaults();
        configuration.FailSwapOn = false;

        Assert.Equal(NodeCheckOutcome.Passed, Run(NodePreflightChecker.Swap, configuration).Outcome);
    }

    [Fact]
    public void Forwarding_off_fails_with_kubeadms_message_and_the_sysctl_to_set()
    {
        Write("proc/sys/net/ipv4/ip_forward", "0\n");

        var forward = Run(NodePreflightChecker.IPv4Forward);

        Assert.Equal(NodeCheckOutcome.Failed, forward.Outcome);
        Assert.Contains("ip_forward contents are not set to 1 (found '0'): run 'sysctl -w net.ipv4.ip_forward=1'", forward.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_br_netfilter_both_bridge_checks_fail_and_say_to_load_it()
    {
        Directory.Delete(Path.Combine(_root, "sys/module/br_netfilter"));
        Directory.Delete(Path.Combine(_root, "proc/sys/net/bridge"), recursive: true);

        var module = Run(NodePreflightChecker.BridgeNetfilter);
        var sysctl = Run(NodePreflightChecker.BridgeNfCallIptables);

        Assert.Equal(NodeCheckOutcome.Failed, module.Outcome);
        Assert.Contains("modprobe br_netfilter", module.Message, StringComparison.Ordinal);
        Assert.Equal(NodeCheckOutcome.Failed, sysctl.Outcome);
        Assert.Contains("bridge-nf-call-iptables does not exist: load br_netfilter ('modprobe br_netfilter')", sysctl.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_user_other_than_root_fails_IsPrivilegedUser()
    {
        Write("proc/self/status", "Name:\tpwsh\nUid:\t1000\t1000\t1000\t1000\n");

        var user = Run(NodePreflightChecker.IsPrivilegedUser);

        Assert.Equal(NodeCheckOutcome.Failed, user.Outcome);
        Assert.StartsWith("user is not running as root (effective uid 1000)", user.Message, StringComparison.Ordinal);
    }

    private void Listen(int port, int pid, string comm, string cmdline)
    {
        Write("proc/net/tcp", TcpHeader + $"   0: 00000000:{port:X4} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 987654 1 0000000000000000 100 0 0 10 0\n");
        var fd = Path.Combine(_root, $"proc/{pid}/fd");
        Directory.CreateDirectory(fd);
        File.CreateSymbolicLink(Path.Combine(fd, "7"), "socket:[987654]");
        Write($"proc/{pid}/comm", comm + "\n");
        Write($"proc/{pid}/cmdline", cmdline.Replace(' ', '\0'));
    }

    [Fact]
    public void Port_10250_held_by_another_process_fails_naming_it()
    {
        Listen(10250, 777, "kubelet", "/usr/bin/kubelet --config=/var/lib/kubelet/config.yaml");

        var port = Run(NodePreflightChecker.KubeletPort);

        Assert.Equal(NodeCheckOutcome.Failed, port.Outcome);
        Assert.Equal("Port 10250 is in use by pid 777 (kubelet): stop it (another kubelet?) or set port in /var/lib/kubelet/config.yaml.", port.Message);
    }

    [Fact]
    public void Port_10250_held_by_the_agent_passes()
    {
        Listen(10250, 778, "pwsh", "pwsh -NoProfile -Command Import-Module KubeletPS; Start-KubeletAgent -Verbose");

        var port = Run(NodePreflightChecker.KubeletPort);

        Assert.Equal(NodeCheckOutcome.Passed, port.Outcome);
        Assert.Contains("held by the agent (pid 778)", port.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Another_port_in_use_leaves_10250_free()
    {
        Listen(10248, 777, "kubelet", "/usr/bin/kubelet");

        Assert.Equal(NodeCheckOutcome.Passed, Run(NodePreflightChecker.KubeletPort).Outcome);
    }

    [Fact]
    public void Missing_binaries_fail_the_mandatory_check_and_warn_for_the_optional_ones()
    {
        File.Delete(Path.Combine(_bin, "nsenter"));
        File.Delete(Path.Combine(_bin, "socat"));

        var required = Run(NodePreflightChecker.RequiredBinaries);
        var optional = Run(NodePreflightChecker.OptionalBinaries);

        Assert.Equal(NodeCheckOutcome.Failed, required.Outcome);
        Assert.StartsWith("nsenter not found in system path", required.Message, StringComparison.Ordinal);
        Assert.Contains("apt-get install util-linux", required.Message, StringComparison.Ordinal);
        Assert.Equal(NodeCheckOutcome.Inconclusive, optional.Outcome);
        Assert.StartsWith("socat not found in system path", optional.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cgroup_driver_other_than_the_runtimes_fails_and_says_what_to_set()
    {
        var configuration = KubeletConfigurationFile.Defaults();
        configuration.CgroupDriver = "systemd";

        var driver = Run(NodePreflightChecker.CgroupDriver, configuration);

        Assert.Equal(NodeCheckOutcome.Failed, driver.Outcome);
        Assert.Equal("the kubelet's cgroupDriver is systemd but the runtime uses cgroupfs (containerd's config: runtime 'runc' SystemdCgroup = false): " +
            "set cgroupDriver: cgroupfs in /var/lib/kubelet/config.yaml, or SystemdCgroup = true in containerd's config.toml and restart containerd.", driver.Message);
    }

    [Fact]
    public void The_cgroup_driver_check_is_skipped_when_the_runtime_does_not_answer()
    {
        var driver = Run(NodePreflightChecker.CgroupDriver, runtime: RuntimeConfigReport.Unreachable("socket /run/containerd/containerd.sock does not exist"));

        Assert.Equal(NodeCheckOutcome.Skipped, driver.Outcome);
        Assert.Contains("does not exist", driver.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_the_socket_or_containerd_and_runc_there_is_no_container_runtime()
    {
        File.Delete(Path.Combine(_bin, "runc"));
        var configuration = KubeletConfigurationFile.Defaults();
        configuration.ContainerRuntimeEndpoint = "unix://" + Path.Combine(_root, "containerd.sock");

        var runtime = Run(NodePreflightChecker.ContainerRuntime, configuration);

        Assert.Equal(NodeCheckOutcome.Failed, runtime.Outcome);
        Assert.StartsWith($"no container runtime: the CRI socket {_root}/containerd.sock does not exist", runtime.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"containerd":{"defaultRuntimeName":"runc","runtimes":{"runc":{"runtimeType":"io.containerd.runc.v2","options":{"SystemdCgroup":true}}}},"sandboxImage":"registry.k8s.io/pause:3.6"}""", "systemd")]
    [InlineData("""{"containerd":{"defaultRuntimeName":"runc","runtimes":{"runc":{"runtimeType":"io.containerd.runc.v2","options":{"BinaryName":""}}}},"sandboxImage":"registry.k8s.io/pause:3.6"}""", "cgroupfs")]
    [InlineData("""{"containerd":{"defaultRuntimeName":"crun","runtimes":{"runc":{"options":{"SystemdCgroup":true}},"crun":{"options":{"SystemdCgroup":false}}}},"sandboxImage":"registry.k8s.io/pause:3.6"}""", "cgroupfs")]
    public void Containerds_status_info_gives_the_default_runtimes_cgroup_driver_and_the_sandbox_image(string config, string driver)
    {
        var (cgroupDriver, sandboxImage, _) = RuntimeConfigReport.FromStatusInfo(new Dictionary<string, string> { ["config"] = config });

        Assert.Equal(driver, cgroupDriver);
        Assert.Equal("registry.k8s.io/pause:3.6", sandboxImage);
    }
}
