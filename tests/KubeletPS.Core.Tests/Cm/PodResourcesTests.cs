using KubeletPS.Core.Cm;
using static KubeletPS.Core.Tests.Cm.CmTestPods;

namespace KubeletPS.Core.Tests.Cm;

/// <summary>kubelet's ResourceConfigForPod (helpers_linux_test.go TestResourceConfigForPod) and its CPU conversions.</summary>
public sealed class PodResourcesTests
{
    private const long Mi = 1024 * 1024;

    [Fact]
    public void BestEffort_gets_the_minimum_shares_only()
    {
        Assert.Equal(new ResourceConfig { CpuShares = 2 }, PodResources.ResourceConfigForPod(Pod((null, null))));
    }

    [Fact]
    public void Burstable_without_limits_gets_shares_only()
    {
        Assert.Equal(new ResourceConfig { CpuShares = 102 }, PodResources.ResourceConfigForPod(Pod(("cpu=100m,memory=100Mi", null))));
    }

    [Fact]
    public void Burstable_with_limits_gets_shares_quota_and_memory()
    {
        Assert.Equal(new ResourceConfig { CpuShares = 102, CpuQuota = 20000, CpuPeriod = 100000, Memory = 200 * Mi },
            PodResources.ResourceConfigForPod(Pod(("cpu=100m,memory=100Mi", "cpu=200m,memory=200Mi"))));
    }

    [Fact]
    public void Burstable_with_one_container_unlimited_gets_no_quota_and_no_memory_limit()
    {
        Assert.Equal(new ResourceConfig { CpuShares = 204 },
            PodResources.ResourceConfigForPod(Pod(("cpu=100m,memory=100Mi", "cpu=200m,memory=200Mi"), ("cpu=100m,memory=100Mi", null))));
    }

    [Fact]
    public void Guaranteed_gets_shares_quota_period_and_memory()
    {
        Assert.Equal(new ResourceConfig { CpuShares = 102, CpuQuota = 10000, CpuPeriod = 100000, Memory = 100 * Mi },
            PodResources.ResourceConfigForPod(Pod(("cpu=100m,memory=100Mi", "cpu=100m,memory=100Mi"))));
    }

    [Fact]
    public void Pod_overhead_adds_to_requests_and_set_limits()
    {
        var pod = Pod([("cpu=100m,memory=100Mi", "cpu=100m,memory=100Mi")], [], "cpu=10m,memory=10Mi");
        Assert.Equal(new ResourceConfig { CpuShares = 112, CpuQuota = 11000, CpuPeriod = 100000, Memory = 110 * Mi }, PodResources.ResourceConfigForPod(pod));
    }

    [Fact]
    public void An_init_container_counts_when_it_is_larger_and_a_sidecar_adds()
    {
        // App 100m; init 500m (larger, ordinary) → requests 500m. With a 50m sidecar before it: 100+50 app side, init 500+50 → 550m.
        var ordinary = Pod([("cpu=100m", null)], [("cpu=500m", null, false)], null);
        Assert.Equal(500, PodResources.PodRequests(ordinary)["cpu"]);
        var withSidecar = Pod([("cpu=100m", null)], [("cpu=50m", null, true), ("cpu=500m", null, false)], null);
        Assert.Equal(550, PodResources.PodRequests(withSidecar)["cpu"]);
    }

    [Fact]
    public void PodPidsLimit_is_set_on_every_class_when_positive()
    {
        Assert.Equal(100, PodResources.ResourceConfigForPod(Pod((null, null)), 100).PidsLimit);
        Assert.Null(PodResources.ResourceConfigForPod(Pod((null, null)), -1).PidsLimit);
    }

    [Theory]
    [InlineData(0, 2)]
    [InlineData(1, 2)]
    [InlineData(100, 102)]
    [InlineData(1000, 1024)]
    [InlineData(1_000_000, 262144)]
    public void MilliCpuToShares(long milliCpu, long shares) => Assert.Equal(shares, CgroupCpu.MilliCpuToShares(milliCpu));

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1000)]
    [InlineData(250, 25000)]
    [InlineData(2000, 200000)]
    public void MilliCpuToQuota(long milliCpu, long quota) => Assert.Equal(quota, CgroupCpu.MilliCpuToQuota(milliCpu));

    [Theory]
    [InlineData(2, 1)]
    [InlineData(1024, 39)]
    [InlineData(262144, 10000)]
    public void CpuSharesToCpuWeight(long shares, long weight) => Assert.Equal(weight, CgroupCpu.CpuSharesToCpuWeight(shares));
}
