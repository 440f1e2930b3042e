using k8s.Models;
using KubeletPS.Core.Cm;
using KubeletPS.Core.Pods.Config;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Validation;
using KubeletPS.Core.Pods.Volumes;

namespace KubeletPS.Core.Tests.Cm;

/// <summary>
/// Attacks with resource quantities a pod's author may write and the API server accepts: <c>1e1000</c> is kept as
/// written (apimachinery caps only binary-suffixed quantities, at 2^63-1), <c>99999999999999999999Ei</c> comes back
/// as 9223372036854775807, and a CPU count of 2^63-1 has 1000 times as many millicores. Every reader of a pod's
/// resources (QoS class, pod cgroup, container resources, downward API, emptyDir sizeLimit, static pod validation)
/// must take them as the largest value and go on, as kubelet's int64 arithmetic does, not throw.
/// </summary>
public sealed class QuantityAttackTests
{
    public static TheoryData<string> Huge => new() { "1e1000", "99999999999999999999Ei", "9223372036854775807", "8Ei" };

    private static V1Pod PodWith(string cpu, string memory) => CmTestPods.Pod(($"cpu={cpu},memory={memory}", $"cpu={cpu},memory={memory}"));

    [Theory]
    [MemberData(nameof(Huge))]
    public void A_huge_quantity_gives_the_largest_value_to_requests_limits_and_the_pod_cgroup(string huge)
    {
        var pod = PodWith(huge, huge);
        Assert.Equal(long.MaxValue, PodResources.PodRequests(pod)["cpu"]);
        Assert.Equal(long.MaxValue, PodResources.PodLimits(pod)["memory"]);
        Assert.Equal(PodQosClass.Guaranteed, PodQos.GetPodQos(pod));
        var config = PodResources.ResourceConfigForPod(pod, 0);
        Assert.Equal(long.MaxValue, config.Memory);
        // Two such containers add up to the largest value, not to a negative number.
        var two = CmTestPods.Pod(($"cpu={huge}", null), ($"cpu={huge}", null));
        Assert.Equal(long.MaxValue, PodResources.PodRequests(two)["cpu"]);
        Assert.Equal(PodQosClass.Burstable, PodQos.GetPodQos(two));
        QosContainerManager.Values([two, pod]);
    }

    [Theory]
    [MemberData(nameof(Huge))]
    public void A_huge_quantity_gives_container_resources_and_a_downward_api_value(string huge)
    {
        var pod = PodWith(huge, huge);
        var container = pod.Spec.Containers[0];
        var resources = PodRuntimeSpecs.Resources(pod, container);
        Assert.Equal(long.MaxValue, resources.MemoryLimitInBytes);
        var value = DownwardApi.ResourceField(container, new V1ResourceFieldSelector { Resource = "limits.memory" }, DownwardApi.MachineCapacity());
        Assert.Equal(long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), value);
        Assert.Equal("1", DownwardApi.ResourceField(container, new V1ResourceFieldSelector { Resource = "requests.cpu", Divisor = new ResourceQuantity(huge) }, DownwardApi.MachineCapacity()));
    }

    [Fact]
    public void A_static_pod_with_a_huge_limit_is_valid_as_the_api_server_finds_it_and_a_negative_one_is_not()
    {
        var pod = PodWith("1e1000", "1e1000");
        PodDefaults.Apply(pod);
        PodValidation.Validate(pod, "huge.yaml", _ => (1, 1));
        var negative = PodWith("-1e1000", "-1");
        PodDefaults.Apply(negative);
        var e = Assert.Throws<KubeletConfigException>(() => PodValidation.Validate(negative, "negative.yaml", _ => (1, 1)));
        Assert.Contains("must be greater than or equal to 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Capped_arithmetic_stops_at_the_range()
    {
        Assert.Equal(long.MaxValue, QuantityValues.Add(long.MaxValue, 1));
        Assert.Equal(long.MinValue, QuantityValues.Add(long.MinValue, -1));
        Assert.Equal(3, QuantityValues.Add(1, 2));
        Assert.Equal(-long.MaxValue, QuantityValues.Value(new ResourceQuantity("-1e1000")));
        Assert.Equal(1500, QuantityValues.MilliValue(new ResourceQuantity("1.5")));
    }
    /// <summary>
    /// CPU as cgroup values: shares are MilliCPUToShares's largest (262144), not the smallest after the multiplication
    /// wrapped; the CFS quota is the largest the kernel takes (2^44-1 µs, max_cfs_runtime), as a larger one is EINVAL
    /// and a wrapped one throttled the container to 1 ms in 100.
    /// </summary>
    [Theory]
    [MemberData(nameof(Huge))]
    [InlineData("1e9")]
    public void A_huge_cpu_gives_the_largest_shares_and_a_quota_the_kernel_takes(string huge)
    {
        var pod = PodWith(huge, "64Mi");
        var config = PodResources.ResourceConfigForPod(pod, 0);
        Assert.Equal(CgroupCpu.MaxShares, config.CpuShares);
        Assert.Equal(CgroupCpu.MaxQuota, config.CpuQuota);
        var resources = PodRuntimeSpecs.Resources(pod, pod.Spec.Containers[0]);
        Assert.Equal(CgroupCpu.MaxShares, resources.CpuShares);
        Assert.Equal(CgroupCpu.MaxQuota, resources.CpuQuota);
        Assert.Equal((1L << 44) - 1, CgroupCpu.MaxQuota);
        // What a real limit gives is unchanged: 1.5 CPUs are 150000 µs in each 100000 µs and 1536 shares.
        Assert.Equal((150_000L, 1536L), (CgroupCpu.MilliCpuToQuota(1500), CgroupCpu.MilliCpuToShares(1500)));
    }
}
