using KubeletPS.Core.Cm;
using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Tests.Configuration;

/// <summary>
/// systemReserved and kubeReserved, written as attacks on the node's allocatable and cgroup arithmetic: kubelet's
/// parseResourceList refuses a negative reservation (which would raise allocatable above capacity), an unparsable
/// one and a resource it cannot reserve, at start; a reservation beyond int64 counts as the largest value.
/// </summary>
public sealed class ReservationFieldsTests
{
    private static KubeletConfiguration Parse(string fields) =>
        KubeletConfigurationFile.Parse("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n" + fields, "/etc/kubelet/config.yaml", null, out _);

    [Theory]
    [InlineData("systemReserved: {memory: -1Gi}\n", "systemReserved", "--system-reserved value failed to parse: resource quantity for \"memory\" cannot be negative: -1Gi")]
    [InlineData("kubeReserved: {cpu: \"-1e3\"}\n", "kubeReserved", "--kube-reserved value failed to parse: resource quantity for \"cpu\" cannot be negative: -1e3")]
    [InlineData("systemReserved: {memory: lots}\n", "systemReserved", "--system-reserved value failed to parse: failed to parse quantity \"lots\" for \"memory\" resource: quantities must match the regular expression")]
    [InlineData("kubeReserved: {nvidia.com/gpu: \"1\"}\n", "kubeReserved", "--kube-reserved value failed to parse: cannot reserve \"nvidia.com/gpu\" resource")]
    public void A_reservation_kubelet_refuses_is_refused_when_the_file_is_read(string fields, string field, string message)
    {
        var e = Assert.Throws<KubeletConfigException>(() => Parse(fields));
        Assert.Equal(field, e.Field);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Equal("/etc/kubelet/config.yaml", e.Path);
    }

    [Fact]
    public void Reservations_kubelet_takes_are_taken()
    {
        var c = Parse("systemReserved: {cpu: 500m, memory: 1Gi, ephemeral-storage: 1Gi, pid: \"1000\"}\nkubeReserved: {cpu: \"1e1000\", memory: 0}\n");
        Assert.Equal("500m", c.SystemReserved!["cpu"]);
        Assert.Equal("1e1000", c.KubeReserved!["cpu"]);
    }

    [Theory]
    [InlineData("1e19")]
    [InlineData("1e1000")]
    [InlineData("70000000000000000000000000000")]
    public void A_reservation_beyond_int64_counts_as_the_largest_value_in_the_cgroup_bounds(string huge)
    {
        var reserved = new Dictionary<string, string> { ["cpu"] = huge, ["memory"] = huge, ["pid"] = huge };
        var bound = NodeReservations.KubepodsBound(new NodeCapacity(2000, 8L << 30, 4096), reserved, reserved);
        Assert.Equal((0L, 1L), (bound.Memory!.Value, bound.PidsLimit!.Value));
        Assert.Equal(CgroupCpu.MilliCpuToShares(0), bound.CpuShares);
        var own = NodeReservations.ReservedCgroupConfig(reserved);
        Assert.Equal(long.MaxValue, own.Memory);
        Assert.Equal(long.MaxValue, own.PidsLimit);
        Assert.Equal(CgroupCpu.MaxShares, own.CpuShares);
    }
    /// <summary>
    /// A quantity with a huge exponent in config.yaml (a typo of 1e9 as 1e99999999): KubernetesClient's parse builds
    /// 10^99999999, so reading the file (Get-KubeletConfig, the agent's start) did not return. Each reader of a
    /// configuration quantity returns: a reservation as the largest value, an eviction threshold and a log size refused.
    /// </summary>
    [Fact]
    public async Task A_configuration_quantity_with_a_huge_exponent_is_read_without_hanging()
    {
        var work = Task.Run(() =>
        {
            var c = Parse("systemReserved: {memory: \"1e99999999\"}\nevictionHard: {memory.available: \"1e99999999\"}\ncontainerLogMaxSize: \"1e99999999\"\n");
            var reserved = NodeReservations.Reserved("memory", c.SystemReserved!);
            var eviction = Record.Exception(() => KubeletPS.Core.Pods.Eviction.EvictionThresholdParser.Parse(c, "/etc/kubelet/config.yaml"));
            var logSize = Record.Exception(() => KubeletPS.Core.Pods.Logs.ContainerLogRotationPolicy.ParseMaxSize(c.ContainerLogMaxSize!));
            var allocatable = KubeletPS.Core.Node.NodeStatusBuilder.ThresholdValue("1e99999999", 1024);
            return (reserved, eviction, logSize, allocatable);
        });
        if (await Task.WhenAny(work, Task.Delay(TimeSpan.FromMinutes(1))) != work)
            throw new Xunit.Sdk.XunitException("reading a configuration quantity of 1e99999999 did not return");
        var (reserved, eviction, logSize, allocatable) = await work;
        Assert.Equal(long.MaxValue, reserved);
        Assert.Contains("evictionHard", Assert.IsType<KubeletConfigException>(eviction).Message, StringComparison.Ordinal);
        Assert.Contains("failed to parse container log max size \"1e99999999\"", Assert.IsAssignableFrom<KubeletException>(logSize).Message, StringComparison.Ordinal);
        Assert.Equal(long.MaxValue, allocatable);
    }
}
