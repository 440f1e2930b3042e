using KubeletPS.Core.Cm;
using KubeletPS.Core.NodeValidation;
using KubeletPS.Core.Tests.Pods;
using static KubeletPS.Core.Tests.Cm.CmTestPods;

namespace KubeletPS.Core.Tests.Cm;

/// <summary>The container manager on a v1 directory tree: the node allocatable bound, validation, the driver check, QoS shares and orphan cleanup.</summary>
public sealed class ContainerManagerTests : IDisposable
{
    private const long Gi = 1024L * 1024 * 1024;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kps-cm-" + Guid.NewGuid().ToString("N")[..8]);
    private static readonly NodeCapacity Capacity = new(4000, 16 * Gi, 4194304);

    public ContainerManagerTests()
    {
        foreach (var controller in new[] { "cpu", "cpuacct", "memory", "pids" }) Directory.CreateDirectory(Path.Combine(_root, controller));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private ContainerManager Manager(ContainerManagerOptions? options = null) =>
        new((options ?? new ContainerManagerOptions()) with { CgroupFileSystemRoot = _root }, () => Capacity, NullKubeletLog.Instance);

    private string Read(params string[] path) => File.ReadAllText(Path.Combine([_root, .. path])).Trim();

    [Fact]
    public void Kubepods_is_bounded_by_capacity_minus_system_and_kube_reserved_not_eviction()
    {
        var manager = Manager(new ContainerManagerOptions
        {
            CgroupRoot = "/kps-test",
            SystemReserved = new Dictionary<string, string> { ["memory"] = "1Gi", ["cpu"] = "500m", ["pid"] = "1000" },
            KubeReserved = new Dictionary<string, string> { ["memory"] = "512Mi", ["cpu"] = "500m" },
        });
        manager.Start([]);
        Assert.Equal((16 * Gi - Gi - Gi / 2).ToString(System.Globalization.CultureInfo.InvariantCulture), Read("memory", "kps-test", "kubepods", "memory.limit_in_bytes"));
        Assert.Equal("3072", Read("cpu", "kps-test", "kubepods", "cpu.shares")); // 3000m
        Assert.Equal("4193304", Read("pids", "kps-test", "kubepods", "pids.max"));
        Assert.Equal("2", Read("cpu", "kps-test", "kubepods", "besteffort", "cpu.shares"));
        Assert.Equal("2", Read("cpu", "kps-test", "kubepods", "burstable", "cpu.shares"));
    }

    [Fact]
    public void Without_pods_enforcement_kubepods_gets_the_capacity()
    {
        var manager = Manager(new ContainerManagerOptions { EnforceNodeAllocatable = [], SystemReserved = new Dictionary<string, string> { ["memory"] = "1Gi" } });
        manager.Start([]);
        Assert.Equal((16 * Gi).ToString(System.Globalization.CultureInfo.InvariantCulture), Read("memory", "kubepods", "memory.limit_in_bytes"));
    }

    [Theory]
    [InlineData("system-reserved", "invalid configuration: systemReservedCgroup (--system-reserved-cgroup) must be specified when \"system-reserved\" contained in enforceNodeAllocatable (--enforce-node-allocatable)")]
    [InlineData("kube-reserved", "invalid configuration: kubeReservedCgroup (--kube-reserved-cgroup) must be specified when \"kube-reserved\" contained in enforceNodeAllocatable (--enforce-node-allocatable)")]
    [InlineData("pod", "invalid configuration: option \"pod\" specified for enforceNodeAllocatable (--enforce-node-allocatable). Valid options are \"pods\", \"system-reserved\", \"kube-reserved\", or \"none\"")]
    public void Enforcing_a_reservation_without_its_cgroup_is_refused_with_kubelets_message(string enforce, string message)
    {
        var error = Assert.Throws<KubeletException>(() => Manager(new ContainerManagerOptions { EnforceNodeAllocatable = ["pods", enforce] }));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Enforcement_without_cgroupsPerQOS_is_refused()
    {
        var error = Assert.Throws<KubeletException>(() => Manager(new ContainerManagerOptions { CgroupsPerQos = false }));
        Assert.Contains("is not supported unless cgroupsPerQOS (--cgroups-per-qos) is set to true", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_listed_reserved_cgroup_gets_the_reservation_and_must_exist()
    {
        var options = new ContainerManagerOptions
        {
            EnforceNodeAllocatable = ["pods", "system-reserved"],
            SystemReservedCgroup = "/system.slice",
            SystemReserved = new Dictionary<string, string> { ["memory"] = "1Gi", ["cpu"] = "1" },
        };
        var missing = Assert.Throws<KubeletException>(() => Manager(options).Start([]));
        Assert.Equal("Failed to enforce System Reserved Cgroup Limits on \"/system.slice\": \"/system.slice\" cgroup does not exist", missing.Message);

        foreach (var controller in new[] { "cpu", "cpuacct", "memory", "pids" }) Directory.CreateDirectory(Path.Combine(_root, controller, "system.slice"));
        Manager(options).Start([]);
        Assert.Equal(Gi.ToString(System.Globalization.CultureInfo.InvariantCulture), Read("memory", "system.slice", "memory.limit_in_bytes"));
        Assert.Equal("1024", Read("cpu", "system.slice", "cpu.shares"));
    }

    [Fact]
    public void The_runtimes_driver_wins_over_a_different_configured_one_with_a_warning_naming_both()
    {
        var log = new RecordingLog();
        var manager = new ContainerManager(new ContainerManagerOptions { Driver = CgroupDriver.Systemd, CgroupFileSystemRoot = _root }, () => Capacity, log);
        Assert.Equal(CgroupDriver.Cgroupfs, manager.ResolveDriver(new RuntimeConfigReport("cgroupfs", null, "containerd's config: runtime 'runc' SystemdCgroup = false", null)));
        var warning = Assert.Single(log.Warnings);
        Assert.Contains("cgroupDriver \"systemd\" in the kubelet configuration is different from the container runtime's cgroup driver \"cgroupfs\" (containerd's config: runtime 'runc' SystemdCgroup = false)", warning, StringComparison.Ordinal);
        // The runtime says nothing (no RuntimeConfig, no config in its Status): the configured driver is used.
        Assert.Equal(CgroupDriver.Systemd, manager.ResolveDriver(new RuntimeConfigReport(null, null, "the runtime's Status info has no \"config\" entry", null)));
        Assert.Contains(log.Lines, l => l.Message.Contains("falling back to cgroupDriver \"systemd\"", StringComparison.Ordinal));
        Assert.Single(log.Warnings);
    }

    [Fact]
    public void Pods_land_in_their_qos_cgroup_and_burstable_shares_follow_the_pods()
    {
        var manager = Manager(new ContainerManagerOptions { CgroupRoot = "/kps", PodPidsLimit = 64 });
        manager.Start([]);
        var guaranteed = Pod([("cpu=100m,memory=100Mi", "cpu=100m,memory=100Mi")], [], null, uid: "g-1");
        var burstable = Pod([("cpu=250m", null)], [], null, uid: "b-1");
        var bestEffort = Pod([(null, null)], [], null, uid: "e-1");
        Assert.Equal("/kps/kubepods/podg-1", manager.PodCgroupParent(guaranteed));
        Assert.Equal("/kps/kubepods/burstable/podb-1", manager.PodCgroupParent(burstable));
        Assert.Equal("/kps/kubepods/besteffort/pode-1", manager.PodCgroupParent(bestEffort));

        manager.EnsurePodCgroup(guaranteed, []);
        manager.EnsurePodCgroup(burstable, [guaranteed]);
        manager.EnsurePodCgroup(bestEffort, [guaranteed, burstable]);
        Assert.Equal("10000", Read("cpu", "kps", "kubepods", "podg-1", "cpu.cfs_quota_us"));
        Assert.Equal("104857600", Read("memory", "kps", "kubepods", "podg-1", "memory.limit_in_bytes"));
        Assert.Equal("64", Read("pids", "kps", "kubepods", "besteffort", "pode-1", "pids.max"));
        Assert.Equal("256", Read("cpu", "kps", "kubepods", "burstable", "cpu.shares"));

        // The burstable pod is gone from sources and runtime: its cgroup goes, and the burstable shares drop.
        var removed = manager.CleanupOrphanedPodCgroups([guaranteed, bestEffort], new HashSet<string>());
        Assert.Equal(["b-1"], removed);
        Assert.False(Directory.Exists(Path.Combine(_root, "cpu", "kps", "kubepods", "burstable", "podb-1")));
        Assert.Equal("2", Read("cpu", "kps", "kubepods", "burstable", "cpu.shares"));

        // A pod still in the runtime keeps its cgroup even when no source wants it.
        Assert.Empty(manager.CleanupOrphanedPodCgroups([], new HashSet<string> { "g-1", "e-1" }));
    }
}
