using System.Diagnostics;
using KubeletPS.Core.Node;

namespace KubeletPS.Core.Tests.Node;

public sealed class NodeStatusBuilderTests
{
    private static readonly DateTime T0 = new(2026, 11, 28, 12, 0, 0, DateTimeKind.Utc);

    private static MachineInfo Machine(long memAvailable = 8L << 30, long fsAvailable = 50L << 30) => new()
    {
        CpuCount = 4,
        MemoryCapacityBytes = 16L << 30,
        MemoryAvailableBytes = memAvailable,
        HugePages = new Dictionary<long, long> { [2L << 20] = 0, [1L << 30] = 1 },
        FilesystemCapacityBytes = 100L << 30,
        FilesystemAvailableBytes = fsAvailable,
        FilesystemInodes = 1_000_000,
        FilesystemInodesFree = 900_000,
        PidMax = 4_194_304,
        RunningProcesses = 200,
        MachineId = "0123456789abcdef0123456789abcdef",
        BootId = "b0b0b0b0-0000-0000-0000-000000000000",
        SystemUuid = "UUID",
        KernelVersion = "6.1.0-13-amd64",
        OsImage = "Debian GNU/Linux 12 (bookworm)",
        Architecture = "amd64",
        Hostname = "node-a",
    };

    private static readonly RuntimeHealth Healthy = new()
    {
        Reachable = true, RuntimeReady = true, NetworkReady = true, RuntimeName = "containerd", RuntimeVersion = "1.6.20",
    };

    [Fact]
    public void Capacity_reports_the_machine_and_maxPods()
    {
        var builder = new NodeStatusBuilder(new NodeAgentOptions { NodeName = "node-a", MaxPods = 42 });
        var capacity = builder.Capacity(Machine());
        Assert.Equal("4", capacity["cpu"].ToString());
        Assert.Equal(16L << 30, (long)capacity["memory"].ToDecimal());
        Assert.Equal(100L << 30, (long)capacity["ephemeral-storage"].ToDecimal());
        Assert.Equal("42", capacity["pods"].ToString());
        Assert.Equal(1L << 30, (long)capacity["hugepages-1Gi"].ToDecimal());
        Assert.Equal(0, (long)capacity["hugepages-2Mi"].ToDecimal());
    }

    [Fact]
    public void Allocatable_subtracts_reserved_eviction_thresholds_and_huge_pages()
    {
        var builder = new NodeStatusBuilder(new NodeAgentOptions
        {
            NodeName = "node-a",
            SystemReserved = new Dictionary<string, string> { ["cpu"] = "500m", ["memory"] = "1Gi" },
            KubeReserved = new Dictionary<string, string> { ["memory"] = "512Mi", ["ephemeral-storage"] = "1Gi" },
        });
        var machine = Machine();
        var allocatable = builder.Allocatable(machine, builder.Capacity(machine));
        Assert.Equal(3.5m, allocatable["cpu"].ToDecimal());
        // 16Gi - 1Gi - 512Mi - 100Mi (memory.available) - 1Gi (huge pages)
        Assert.Equal((16L << 30) - (1L << 30) - (512L << 20) - (100L << 20) - (1L << 30), (long)allocatable["memory"].ToDecimal());
        // 100Gi - 1Gi - 10% of 100Gi (nodefs.available)
        Assert.Equal((100L << 30) - (1L << 30) - (10L << 30), (long)allocatable["ephemeral-storage"].ToDecimal());
        Assert.Equal("110", allocatable["pods"].ToString());
    }

    [Fact]
    public void Conditions_carry_kubelet_reasons_and_keep_transition_time_until_the_status_changes()
    {
        var builder = new NodeStatusBuilder(new NodeAgentOptions { NodeName = "node-a" });
        var first = builder.Conditions(Machine(), Healthy, null, T0);
        var ready = Assert.Single(first, c => c.Type == "Ready");
        Assert.Equal(("True", "KubeletReady", "kubelet is posting ready status"), (ready.Status, ready.Reason, ready.Message));
        var memory = Assert.Single(first, c => c.Type == "MemoryPressure");
        Assert.Equal(("False", "KubeletHasSufficientMemory"), (memory.Status, memory.Reason));
        Assert.Equal(("False", "KubeletHasNoDiskPressure"), first.Single(c => c.Type == "DiskPressure") is var d ? (d.Status, d.Reason) : default);
        Assert.Equal(("False", "KubeletHasSufficientPID"), first.Single(c => c.Type == "PIDPressure") is var p ? (p.Status, p.Reason) : default);

        // Same status ten seconds later: the heartbeat moves, the transition does not.
        var second = builder.Conditions(Machine(), Healthy, first, T0.AddSeconds(10));
        var ready2 = second.Single(c => c.Type == "Ready");
        Assert.Equal(T0.AddSeconds(10), ready2.LastHeartbeatTime);
        Assert.Equal(T0, ready2.LastTransitionTime);

        // Memory runs low and the network goes away: both conditions transition now.
        var degraded = new RuntimeHealth { Reachable = true, RuntimeReady = true, NetworkReady = false, Message = "NetworkReady=false reason:NetworkPluginNotReady message:cni config uninitialized" };
        var third = builder.Conditions(Machine(memAvailable: 50L << 20), degraded, second, T0.AddSeconds(20));
        var ready3 = third.Single(c => c.Type == "Ready");
        Assert.Equal(("False", "KubeletNotReady"), (ready3.Status, ready3.Reason));
        Assert.Contains("container runtime network not ready", ready3.Message);
        Assert.Equal(T0.AddSeconds(20), ready3.LastTransitionTime);
        var memory3 = third.Single(c => c.Type == "MemoryPressure");
        Assert.Equal(("True", "KubeletHasInsufficientMemory"), (memory3.Status, memory3.Reason));
        Assert.Equal(T0.AddSeconds(20), memory3.LastTransitionTime);
    }

    private sealed class FixedPressure(params string[] conditions) : INodePressure
    {
        public bool HasCondition(string conditionType) => conditions.Contains(conditionType);
    }

    [Fact]
    public void With_an_eviction_manager_the_pressure_conditions_are_its_own_whatever_the_machine_figures()
    {
        // The machine is low on memory, but the manager has met no memory threshold; it says disk pressure.
        var builder = new NodeStatusBuilder(new NodeAgentOptions { NodeName = "node-a" }) { Pressure = new FixedPressure("DiskPressure") };
        var conditions = builder.Conditions(Machine(memAvailable: 1L << 20), Healthy, null, T0);
        Assert.Equal(("False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            conditions.Single(c => c.Type == "MemoryPressure") is var m ? (m.Status, m.Reason, m.Message) : default);
        Assert.Equal(("True", "KubeletHasDiskPressure", "kubelet has disk pressure"),
            conditions.Single(c => c.Type == "DiskPressure") is var d ? (d.Status, d.Reason, d.Message) : default);
        Assert.Equal("False", conditions.Single(c => c.Type == "PIDPressure").Status);
    }

    [Fact]
    public void Ready_is_false_with_the_reason_when_the_runtime_is_down()
    {
        var builder = new NodeStatusBuilder(new NodeAgentOptions { NodeName = "node-a" });
        var conditions = builder.Conditions(Machine(), RuntimeHealth.Unreachable("dial unix /run/containerd/containerd.sock: no such file"), null, T0);
        var ready = conditions.Single(c => c.Type == "Ready");
        Assert.Equal("False", ready.Status);
        Assert.StartsWith("container runtime is down", ready.Message);
    }

    [Fact]
    public void Images_are_listed_largest_first_and_capped_at_fifty()
    {
        var builder = new NodeStatusBuilder(new NodeAgentOptions { NodeName = "node-a" });
        var images = Enumerable.Range(1, 60).Select(i => ((IReadOnlyList<string>)[$"registry.local/img{i}:1"], (long)i * 1000)).ToList();
        var status = builder.BuildStatus(Machine(), Healthy with { Images = images }, null, T0);
        Assert.Equal(NodeStatusBuilder.MaxImages, status.Images.Count);
        Assert.Equal("registry.local/img60:1", status.Images[0].Names[0]);
        Assert.Equal(60_000, status.Images[0].SizeBytes);
    }

    [Fact]
    public void Disk_pressure_follows_the_nodefs_threshold()
    {
        var builder = new NodeStatusBuilder(new NodeAgentOptions { NodeName = "node-a" });
        var conditions = builder.Conditions(Machine(fsAvailable: 5L << 30), Healthy, null, T0);
        Assert.Equal("True", conditions.Single(c => c.Type == "DiskPressure").Status);
    }

    [Fact]
    public void Status_changes_ignore_heartbeat_times_only()
    {
        var builder = new NodeStatusBuilder(new NodeAgentOptions { NodeName = "node-a" });
        var a = builder.BuildStatus(Machine(), Healthy, null, T0);
        var b = builder.BuildStatus(Machine(), Healthy, a, T0.AddSeconds(10));
        Assert.False(NodeStatusBuilder.StatusChanged(a, b));
        var c = builder.BuildStatus(Machine(memAvailable: 1L << 20), Healthy, b, T0.AddSeconds(20));
        Assert.True(NodeStatusBuilder.StatusChanged(b, c));
    }

    [Fact]
    public void Initial_node_has_kubelet_labels_extra_labels_taints_and_node_info()
    {
        var builder = new NodeStatusBuilder(new NodeAgentOptions
        {
            NodeName = "node-a",
            NodeIp = "10.0.0.5",
            Labels = LabelRules.Parse(["topology.kubernetes.io/zone=z1,node-role.example.com/worker="]),
            RegisterWithTaints = [NodeAgentOptions.ParseTaint("dedicated=gpu:NoSchedule")],
        });
        var node = builder.BuildInitialNode(Machine(), Healthy, T0);
        Assert.Equal("node-a", node.Metadata.Labels["kubernetes.io/hostname"]);
        Assert.Equal("linux", node.Metadata.Labels["kubernetes.io/os"]);
        Assert.Equal("amd64", node.Metadata.Labels["kubernetes.io/arch"]);
        Assert.Equal("amd64", node.Metadata.Labels["beta.kubernetes.io/arch"]);
        Assert.Equal("z1", node.Metadata.Labels["topology.kubernetes.io/zone"]);
        var taint = Assert.Single(node.Spec.Taints);
        Assert.Equal(("dedicated", "gpu", "NoSchedule"), (taint.Key, taint.Value, taint.Effect));
        Assert.Contains(node.Status.Addresses, a => a.Type == "InternalIP" && a.Address == "10.0.0.5");
        Assert.Contains(node.Status.Addresses, a => a.Type == "Hostname" && a.Address == "node-a");
        Assert.Equal("containerd://1.6.20", node.Status.NodeInfo.ContainerRuntimeVersion);
        Assert.StartsWith("v1.32.0+kubeletps.", node.Status.NodeInfo.KubeletVersion);
        Assert.Equal(10250, node.Status.DaemonEndpoints.KubeletEndpoint.Port);
    }

    [Theory]
    [InlineData("Node-A", "node-a")]
    [InlineData("worker-1.example.com", "worker-1.example.com")]
    public void Node_name_is_lower_cased(string input, string expected) => Assert.Equal(expected, NodeName.Resolve(input));

    [Theory]
    [InlineData("-bad")]
    [InlineData("under_score")]
    [InlineData("a..b")]
    public void Node_name_rejects_invalid_names(string input)
    {
        var e = Assert.Throws<KubeletException>(() => NodeName.Resolve(input));
        Assert.Equal(KubeletErrorKind.InvalidArgument, e.Category);
        Assert.Contains("DNS-1123", e.Message);
    }

    [Theory]
    [InlineData("key:Evict")]
    [InlineData("noeffect")]
    [InlineData("bad key=v:NoSchedule")]
    public void Taints_are_validated(string text) =>
        Assert.Throws<KubeletException>(() => NodeAgentOptions.ParseTaint(text));

    [Fact]
    public void Node_labels_reject_the_node_restriction_prefix() =>
        Assert.Contains("reserved", Assert.Throws<KubeletException>(() => LabelRules.Parse(["node-restriction.kubernetes.io/x=y"])).Message);

    [Fact]
    public void Machine_info_matches_proc_meminfo_and_nproc()
    {
        var machine = new MachineInfoReader().Read();
        var memTotalKb = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        Assert.Equal(long.Parse(memTotalKb) * 1024, machine.MemoryCapacityBytes);
        var nproc = Process.Start(new ProcessStartInfo("nproc") { RedirectStandardOutput = true })!;
        var cpus = int.Parse(nproc.StandardOutput.ReadToEnd().Trim());
        nproc.WaitForExit();
        Assert.Equal(cpus, machine.CpuCount);
        Assert.True(machine.FilesystemCapacityBytes > 0);
        Assert.Equal(File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim(), machine.BootId);
        Assert.Equal(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), machine.KernelVersion);
    }
}
