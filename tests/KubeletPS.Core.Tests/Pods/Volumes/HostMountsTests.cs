using KubeletPS.Core.Pods.Volumes;

namespace KubeletPS.Core.Tests.Pods.Volumes;

/// <summary>A pod directory with something mounted in it is never deleted through the mount.</summary>
public sealed class HostMountsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kubeletps-mounts-").FullName;

    public void Dispose()
    {
        foreach (var point in HostMounts.MountPointsUnder(_dir)) HostMounts.Unmount(point);
        Directory.Delete(_dir, true);
    }

    [Fact]
    public void Removing_a_pod_directory_unmounts_a_bind_mount_of_a_host_directory_and_keeps_the_host_files()
    {
        // The attack: a subPath bind mount of a host directory left under the pod directory; a plain
        // recursive delete walks into it and deletes the host's files.
        var host = Directory.CreateDirectory(Path.Combine(_dir, "host")).FullName;
        File.WriteAllText(Path.Combine(host, "precious"), "keep me");
        var pod = Path.Combine(_dir, "pod");
        var target = Directory.CreateDirectory(Path.Combine(pod, "volume-subpaths", "work", "main", "0")).FullName;
        HostMounts.Mount(host, target, null, HostMounts.MsBind);
        var tmpfs = Directory.CreateDirectory(Path.Combine(pod, "volumes", "kubernetes.io~secret", "creds")).FullName;
        HostMounts.Mount("tmpfs", tmpfs, "tmpfs", 0, "size=1m");
        Assert.True(HostMounts.IsMountPoint(target));
        Assert.Equal(new[] { target, tmpfs }.OrderByDescending(p => p.Length), HostMounts.MountPointsUnder(pod));

        HostMounts.RemoveDirectory(pod);

        Assert.False(Directory.Exists(pod));
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(host, "precious")));
        Assert.Empty(HostMounts.MountPointsUnder(_dir));
    }

    [Fact]
    public void A_failed_mount_names_the_target_and_the_reason()
    {
        var e = Assert.Throws<IOException>(() => HostMounts.Mount(Path.Combine(_dir, "missing"), Path.Combine(_dir, "also-missing"), null, HostMounts.MsBind));
        Assert.Contains("also-missing", e.Message);
        Assert.Contains("No such file", e.Message);
    }
}
