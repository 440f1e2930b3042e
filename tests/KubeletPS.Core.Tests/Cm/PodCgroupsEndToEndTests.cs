using System.Globalization;
using KubeletPS.Core.Cm;
using KubeletPS.Core.Tests.Pods;

namespace KubeletPS.Core.Tests.Cm;

/// <summary>
/// The container manager for real: cgroup v1 with the cgroupfs driver on this machine's /sys/fs/cgroup, pods on
/// the private containerd. Each test has its own cgroupRoot (/kubeletps-test-&lt;random&gt;), removed afterwards.
/// </summary>
[Collection(PodSyncCollection.Name)]
public sealed class PodCgroupsEndToEndTests(PodSyncFixture fixture) : IAsyncLifetime
{
    private const string Image = "kubeletps.local/busybox:latest";
    private const string SysFsCgroup = "/sys/fs/cgroup";
    private readonly string _cgroupRoot = "/kubeletps-test-" + Guid.NewGuid().ToString("N")[..8];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        // The pods are stopped with their agent; what is left of the test's hierarchy goes, bottom-up, in every controller.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        foreach (var hierarchy in Directory.EnumerateDirectories(SysFsCgroup))
        {
            var dir = hierarchy + _cgroupRoot;
            while (Directory.Exists(dir))
            {
                try { RemoveCgroupTree(dir); }
                catch (IOException) when (DateTime.UtcNow < deadline) { await Task.Delay(200); }
            }
        }
    }

    private static void RemoveCgroupTree(string dir)
    {
        foreach (var child in Directory.EnumerateDirectories(dir)) RemoveCgroupTree(child);
        Directory.Delete(dir);
    }

    private static string Pod(string name, string resources) => $"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {name}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: {Image}
            imagePullPolicy: IfNotPresent
            command: ["sh", "-c", "sleep 3600"]
        {resources}
        """;

    private const string GuaranteedResources = """
            resources:
              limits: {cpu: 200m, memory: 64Mi}
        """;

    private const string BurstableResources = """
            resources:
              requests: {cpu: 250m, memory: 32Mi}
        """;

    private AgentHarness NewAgent(ContainerManagerOptions cgroups) =>
        fixture.NewAgent(options: o => o with { Cgroups = cgroups });

    private static string Read(string controller, string path, string file) => File.ReadAllText($"{SysFsCgroup}/{controller}{path}/{file}").Trim();

    /// <summary>The memory line of /proc/1/cgroup inside the container: the container's main process's cgroup on the host.</summary>
    private static async Task<string> ContainerMemoryCgroupAsync(AgentHarness h, string uid)
    {
        var container = (await h.ContainersAsync(uid)).Single(c => c.State == KubeletPS.Core.Runtime.ContainerState.Running);
        var result = await h.Client.ExecSyncAsync(container.Id, ["cat", "/proc/1/cgroup"], TimeSpan.FromSeconds(10));
        return result.Stdout.Split('\n').Single(l => l.Split(':') is [_, "memory", _]).Split(':')[2];
    }

    [Fact]
    public async Task Pods_land_in_their_qos_cgroups_with_kubelets_limits_and_kubepods_carries_the_allocatable_bound()
    {
        await using var h = NewAgent(new ContainerManagerOptions
        {
            CgroupRoot = _cgroupRoot,
            SystemReserved = new Dictionary<string, string> { ["memory"] = "1Gi", ["cpu"] = "500m" },
            KubeReserved = new Dictionary<string, string> { ["memory"] = "256Mi" },
            PodPidsLimit = 128,
        });
        h.Write("guaranteed.yaml", Pod("guaranteed", GuaranteedResources));
        h.Write("burstable.yaml", Pod("burstable", BurstableResources));
        h.Write("besteffort.yaml", Pod("besteffort", ""));
        var guaranteed = await h.WaitForRunningAsync("guaranteed", TimeSpan.FromSeconds(90));
        var burstable = await h.WaitForRunningAsync("burstable", TimeSpan.FromSeconds(90));
        var bestEffort = await h.WaitForRunningAsync("besteffort", TimeSpan.FromSeconds(90));
        var kubepods = _cgroupRoot + "/kubepods";

        // Each container's process is in its pod's cgroup, in the pod's QoS cgroup (Guaranteed directly in kubepods).
        Assert.StartsWith($"{kubepods}/pod{guaranteed.Metadata.Uid}/", await ContainerMemoryCgroupAsync(h, guaranteed.Metadata.Uid), StringComparison.Ordinal);
        Assert.StartsWith($"{kubepods}/burstable/pod{burstable.Metadata.Uid}/", await ContainerMemoryCgroupAsync(h, burstable.Metadata.Uid), StringComparison.Ordinal);
        Assert.StartsWith($"{kubepods}/besteffort/pod{bestEffort.Metadata.Uid}/", await ContainerMemoryCgroupAsync(h, bestEffort.Metadata.Uid), StringComparison.Ordinal);
        Assert.Equal("Guaranteed", guaranteed.Status.QosClass);

        // The pod cgroup carries the pod's limits (ResourceConfigForPod) and podPidsLimit.
        var guaranteedCgroup = $"{kubepods}/pod{guaranteed.Metadata.Uid}";
        Assert.Equal((64L * 1024 * 1024).ToString(CultureInfo.InvariantCulture), Read("memory", guaranteedCgroup, "memory.limit_in_bytes"));
        Assert.Equal("20000", Read("cpu", guaranteedCgroup, "cpu.cfs_quota_us"));
        Assert.Equal("100000", Read("cpu", guaranteedCgroup, "cpu.cfs_period_us"));
        Assert.Equal("204", Read("cpu", guaranteedCgroup, "cpu.shares"));
        Assert.Equal("128", Read("pids", guaranteedCgroup, "pids.max"));
        Assert.Equal("-1", Read("cpu", $"{kubepods}/burstable/pod{burstable.Metadata.Uid}", "cpu.cfs_quota_us"));

        // kubepods: capacity − systemReserved − kubeReserved (the kernel keeps whole pages).
        var machine = new KubeletPS.Core.Node.MachineInfoReader("/", h.RootDirectory).Read();
        var bound = machine.MemoryCapacityBytes - (1L << 30) - (256L << 20);
        Assert.Equal(bound / Environment.SystemPageSize * Environment.SystemPageSize, long.Parse(Read("memory", kubepods, "memory.limit_in_bytes"), CultureInfo.InvariantCulture));
        Assert.Equal(CgroupCpu.MilliCpuToShares(machine.CpuCount * 1000L - 500).ToString(CultureInfo.InvariantCulture), Read("cpu", kubepods, "cpu.shares"));

        // QoS shares: burstable is the sum of its pods' CPU requests, besteffort the minimum.
        Assert.Equal("256", Read("cpu", kubepods + "/burstable", "cpu.shares"));
        Assert.Equal("2", Read("cpu", kubepods + "/besteffort", "cpu.shares"));

        // The burstable pod deleted: once its sandbox is gone its cgroup is removed and the burstable shares drop.
        h.Remove("burstable.yaml");
        var burstableDir = $"{SysFsCgroup}/memory{kubepods}/burstable/pod{burstable.Metadata.Uid}";
        await PodSyncFixture.WaitForAsync(() => Directory.Exists(burstableDir), exists => !exists, "the burstable pod's cgroup removed", TimeSpan.FromSeconds(60));
        Assert.False(Directory.Exists($"{SysFsCgroup}/cpu{kubepods}/burstable/pod{burstable.Metadata.Uid}"));
        await PodSyncFixture.WaitForAsync(() => Read("cpu", kubepods + "/burstable", "cpu.shares"), s => s == "2", "burstable shares back to 2");
        Assert.Contains(h.Log.Lines, l => l.Message.Contains($"pod {burstable.Metadata.Uid}: removed its cgroup", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_configured_systemd_driver_on_a_cgroupfs_runtime_warns_with_both_values_and_pods_use_the_runtimes()
    {
        await using var h = NewAgent(new ContainerManagerOptions { CgroupRoot = _cgroupRoot, Driver = CgroupDriver.Systemd });
        h.Write("besteffort.yaml", Pod("besteffort", ""));
        var pod = await h.WaitForRunningAsync("besteffort", TimeSpan.FromSeconds(90));
        Assert.Contains(h.Log.Warnings, w => w.StartsWith("cgroupDriver \"systemd\" in the kubelet configuration is different from the container runtime's cgroup driver \"cgroupfs\"", StringComparison.Ordinal));
        Assert.StartsWith($"{_cgroupRoot}/kubepods/besteffort/pod{pod.Metadata.Uid}/", await ContainerMemoryCgroupAsync(h, pod.Metadata.Uid), StringComparison.Ordinal);
    }
}
