using KubeletPS.Core.Cm;
using KubeletPS.Core.Stats;

namespace KubeletPS.Core.Tests.Cm;

/// <summary>
/// The cgroup file writes on directory trees laid out as the kernel's: cgroup v2 (cgroup.controllers at the
/// root) and v1 (a directory per controller), with both drivers. Only v1 + cgroupfs also runs for real (the
/// end-to-end tests); v2 and systemd are checked here.
/// </summary>
public sealed class CgroupFileSystemManagerTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kps-cgtree-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private void UnifiedRoot()
    {
        Directory.CreateDirectory(_root);
        File.WriteAllText(Path.Combine(_root, "cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc\n");
        File.WriteAllText(Path.Combine(_root, "cgroup.subtree_control"), "");
    }

    private string Read(params string[] path) => File.ReadAllText(Path.Combine([_root, .. path]));

    [Fact]
    public void V2_cgroupfs_writes_weight_max_memory_and_pids_and_enables_controllers_in_parents()
    {
        UnifiedRoot();
        var cgroups = new CgroupFileSystemManager(CgroupDriver.Cgroupfs, _root);
        Assert.Equal(CgroupVersion.V2, cgroups.Version);
        var pod = new CgroupName(["kubepods", "burstable", "podabc"]);
        cgroups.Create(pod, new ResourceConfig { CpuShares = 1024, CpuQuota = 50000, CpuPeriod = 100000, Memory = 64 * 1024 * 1024, PidsLimit = 100 });

        Assert.Equal("39", Read("kubepods", "burstable", "podabc", "cpu.weight"));
        Assert.Equal("50000 100000", Read("kubepods", "burstable", "podabc", "cpu.max"));
        Assert.Equal("67108864", Read("kubepods", "burstable", "podabc", "memory.max"));
        Assert.Equal("100", Read("kubepods", "burstable", "podabc", "pids.max"));
        foreach (var parent in new[] { Path.Combine(_root), Path.Combine(_root, "kubepods"), Path.Combine(_root, "kubepods", "burstable") })
            Assert.Equal("+cpu +memory +pids", File.ReadAllText(Path.Combine(parent, "cgroup.subtree_control")));
        Assert.True(cgroups.Exists(pod));
        Assert.Equal("/kubepods/burstable/podabc", cgroups.Name(pod));
    }

    [Fact]
    public void V2_unlimited_values_are_max()
    {
        UnifiedRoot();
        var cgroups = new CgroupFileSystemManager(CgroupDriver.Cgroupfs, _root);
        var name = new CgroupName(["kubepods"]);
        cgroups.Create(name, new ResourceConfig { CpuShares = 2, CpuQuota = -1, Memory = -1, PidsLimit = -1 });
        Assert.Equal("1", Read("kubepods", "cpu.weight"));
        Assert.Equal("max 100000", Read("kubepods", "cpu.max"));
        Assert.Equal("max", Read("kubepods", "memory.max"));
        Assert.Equal("max", Read("kubepods", "pids.max"));
    }

    [Fact]
    public void V2_systemd_nests_slices_and_finds_pods_again()
    {
        UnifiedRoot();
        var cgroups = new CgroupFileSystemManager(CgroupDriver.Systemd, _root);
        var uid = "6e1c4a2b-0d3f-4a55-9e36-1f0a2b3c4d5e";
        var pod = new CgroupName(["kubepods", "besteffort", "pod" + uid]);
        cgroups.Create(pod, new ResourceConfig { CpuShares = 2 });
        var dir = Path.Combine(_root, "kubepods.slice", "kubepods-besteffort.slice", "kubepods-besteffort-pod6e1c4a2b_0d3f_4a55_9e36_1f0a2b3c4d5e.slice");
        Assert.Equal("1", File.ReadAllText(Path.Combine(dir, "cpu.weight")));
        Assert.Equal("+cpu +memory +pids", File.ReadAllText(Path.Combine(_root, "kubepods.slice", "kubepods-besteffort.slice", "cgroup.subtree_control")));

        var qos = new QosContainerManager(cgroups, new CgroupName(["kubepods"]));
        var found = new PodContainerManager(cgroups, qos, -1).GetAllPodsFromCgroups();
        Assert.Equal(pod, Assert.Single(found, p => p.Key == uid).Value);

        cgroups.Destroy(pod);
        Assert.False(Directory.Exists(dir));
        Assert.True(cgroups.Exists(pod.Parent!));
    }

    [Fact]
    public void V1_cgroupfs_writes_one_directory_per_controller()
    {
        foreach (var controller in new[] { "cpu", "cpuacct", "memory", "pids", "cpuset" }) Directory.CreateDirectory(Path.Combine(_root, controller));
        var cgroups = new CgroupFileSystemManager(CgroupDriver.Cgroupfs, _root);
        Assert.Equal(CgroupVersion.V1, cgroups.Version);
        var pod = new CgroupName(["kps", "kubepods", "podabc"]);
        cgroups.Create(pod, new ResourceConfig { CpuShares = 102, CpuQuota = 10000, CpuPeriod = 100000, Memory = 104857600, PidsLimit = 50 });
        Assert.Equal("102", Read("cpu", "kps", "kubepods", "podabc", "cpu.shares"));
        Assert.Equal("100000", Read("cpu", "kps", "kubepods", "podabc", "cpu.cfs_period_us"));
        Assert.Equal("10000", Read("cpu", "kps", "kubepods", "podabc", "cpu.cfs_quota_us"));
        Assert.Equal("104857600", Read("memory", "kps", "kubepods", "podabc", "memory.limit_in_bytes"));
        Assert.Equal("50", Read("pids", "kps", "kubepods", "podabc", "pids.max"));
        Assert.True(Directory.Exists(Path.Combine(_root, "cpuacct", "kps", "kubepods", "podabc")));

        // What the runtime made below the pod (cpuset too) goes with it.
        Directory.CreateDirectory(Path.Combine(_root, "cpuset", "kps", "kubepods", "podabc", "container1"));
        Assert.False(cgroups.HasProcesses(pod));
        cgroups.Destroy(pod);
        Assert.False(Directory.Exists(Path.Combine(_root, "cpuset", "kps", "kubepods", "podabc")));
        Assert.False(Directory.Exists(Path.Combine(_root, "memory", "kps", "kubepods", "podabc")));
    }

    [Fact]
    public void A_cgroup_with_a_process_is_reported_busy()
    {
        foreach (var controller in new[] { "cpu", "memory", "pids" }) Directory.CreateDirectory(Path.Combine(_root, controller));
        var cgroups = new CgroupFileSystemManager(CgroupDriver.Cgroupfs, _root);
        var pod = new CgroupName(["kubepods", "podabc"]);
        cgroups.Create(pod, new ResourceConfig());
        Directory.CreateDirectory(Path.Combine(_root, "memory", "kubepods", "podabc", "c1"));
        File.WriteAllText(Path.Combine(_root, "memory", "kubepods", "podabc", "c1", "cgroup.procs"), "4242\n");
        Assert.True(cgroups.HasProcesses(pod));
    }

    [Fact]
    public void A_write_that_fails_names_the_file()
    {
        Directory.CreateDirectory(Path.Combine(_root, "memory"));
        var cgroups = new CgroupFileSystemManager(CgroupDriver.Cgroupfs, _root);
        // A directory where the limit file should be: the write fails.
        Directory.CreateDirectory(Path.Combine(_root, "memory", "kubepods", "memory.limit_in_bytes"));
        var error = Assert.Throws<CgroupException>(() => cgroups.Update(new CgroupName(["kubepods"]), new ResourceConfig { Memory = 1024 }));
        Assert.Equal(Path.Combine(_root, "memory", "kubepods", "memory.limit_in_bytes"), error.Target);
        Assert.Contains("memory.limit_in_bytes", error.Message, StringComparison.Ordinal);
    }
}
