using KubeletPS.Core.Cm;
using static KubeletPS.Core.Tests.Cm.CmTestPods;

namespace KubeletPS.Core.Tests.Cm;

/// <summary>kubelet's GetPodQOS table (pkg/apis/core/v1/helper/qos qos_test.go cases).</summary>
public sealed class PodQosTests
{
    /// <summary>Containers as "requests|limits" separated by ';', "-" for none.</summary>
    [Theory]
    [InlineData("-|-", PodQosClass.BestEffort)]
    [InlineData("example.com/gpu=1|-", PodQosClass.BestEffort)]
    [InlineData("cpu=0,memory=0|cpu=0,memory=0", PodQosClass.BestEffort)]
    [InlineData("cpu=100m,memory=100Mi|cpu=100m,memory=100Mi", PodQosClass.Guaranteed)]
    [InlineData("-|cpu=100m,memory=100Mi", PodQosClass.Guaranteed)] // requests default to the limits
    [InlineData("cpu=100m,memory=100Mi|cpu=100m,memory=100Mi;cpu=1,memory=1Gi|cpu=1,memory=1Gi", PodQosClass.Guaranteed)]
    [InlineData("cpu=100m,memory=100Mi|cpu=200m,memory=100Mi", PodQosClass.Burstable)]
    [InlineData("cpu=100m|cpu=100m", PodQosClass.Burstable)]
    [InlineData("cpu=100m,memory=100Mi|cpu=100m,memory=100Mi;-|-", PodQosClass.Burstable)]
    [InlineData("cpu=100m,memory=100Mi|-", PodQosClass.Burstable)]
    [InlineData("-|-;memory=1Mi|-", PodQosClass.Burstable)]
    public void Pods_get_kubelets_qos_class(string containers, PodQosClass expected)
    {
        var specs = containers.Split(';').Select(c => c.Split('|')).Select(p => (None(p[0]), None(p[1]))).ToArray();
        Assert.Equal(expected, PodQos.GetPodQos(Pod(specs)));
    }

    private static string? None(string text) => text == "-" ? null : text;

    [Fact]
    public void An_init_container_without_limits_makes_a_guaranteed_pod_burstable()
    {
        var pod = Pod([("cpu=100m,memory=100Mi", "cpu=100m,memory=100Mi")], [("cpu=10m", null, false)], null);
        Assert.Equal(PodQosClass.Burstable, PodQos.GetPodQos(pod));
    }

    [Fact]
    public void Pod_overhead_does_not_change_the_class()
    {
        var pod = Pod([("cpu=100m,memory=100Mi", "cpu=100m,memory=100Mi")], [], "cpu=10m,memory=10Mi");
        Assert.Equal(PodQosClass.Guaranteed, PodQos.GetPodQos(pod));
    }
}
