using KubeletPS.Core.Cm;

namespace KubeletPS.Core.Tests.Cm;

/// <summary>kubelet's cgroup names in both drivers (cgroup_manager_linux_test.go TestCgroupNameToSystemdBasename and friends).</summary>
public sealed class CgroupNameTests
{
    private const string Uid = "6e1c4a2b-0d3f-4a55-9e36-1f0a2b3c4d5e";

    [Theory]
    [InlineData(new string[0], "/", "/")]
    [InlineData(new[] { "kubepods" }, "/kubepods", "/kubepods.slice")]
    [InlineData(new[] { "kubepods", "burstable" }, "/kubepods/burstable", "/kubepods.slice/kubepods-burstable.slice")]
    [InlineData(new[] { "kubepods", "burstable", "pod" + Uid }, "/kubepods/burstable/pod" + Uid,
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6e1c4a2b_0d3f_4a55_9e36_1f0a2b3c4d5e.slice")]
    [InlineData(new[] { "kubeletps-test", "kubepods" }, "/kubeletps-test/kubepods", "/kubeletps_test.slice/kubeletps_test-kubepods.slice")]
    public void Names_in_both_drivers(string[] components, string cgroupfs, string systemd)
    {
        var name = new CgroupName(components);
        Assert.Equal(cgroupfs, name.ToCgroupfs());
        Assert.Equal(systemd, name.ToSystemd());
        Assert.Equal(name, CgroupName.ParseCgroupfs(cgroupfs));
        Assert.Equal(name, CgroupName.ParseSystemd(systemd));
    }

    [Fact]
    public void The_systemd_slice_name_of_a_pod()
    {
        var name = new CgroupName(["kubepods", "besteffort", "pod" + Uid]);
        Assert.Equal("kubepods-besteffort-pod6e1c4a2b_0d3f_4a55_9e36_1f0a2b3c4d5e.slice", name.SystemdSliceName());
        Assert.Equal(name.ToSystemd(), name.ToDriverForm(CgroupDriver.Systemd));
        Assert.Equal("/kubepods/besteffort/pod" + Uid, name.ToDriverForm(CgroupDriver.Cgroupfs));
    }

    [Fact]
    public void A_component_that_is_not_one_directory_is_refused()
    {
        foreach (var bad in new[] { "a/b", "..", "." })
        {
            var error = Assert.Throws<CgroupException>(() => new CgroupName(["kubepods", bad]));
            Assert.Contains($"'{bad}'", error.Message, StringComparison.Ordinal);
        }
    }
}
