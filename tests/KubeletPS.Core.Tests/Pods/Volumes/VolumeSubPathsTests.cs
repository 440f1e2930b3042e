using k8s.Models;
using KubeletPS.Core.Pods.Volumes;

namespace KubeletPS.Core.Tests.Pods.Volumes;

/// <summary>The safe subPath walk and bind mount on a temporary directory, without a runtime.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class VolumeSubPathsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kubeletps-subpath-").FullName;
    private string Volume => Path.Combine(_dir, "volume");
    private string Outside => Path.Combine(_dir, "outside");

    public VolumeSubPathsTests()
    {
        Directory.CreateDirectory(Path.Combine(Volume, "a", "b"));
        File.WriteAllText(Path.Combine(Volume, "a", "b", "file"), "inside");
        Directory.CreateDirectory(Outside);
        File.WriteAllText(Path.Combine(Outside, "secret"), "outside");
    }

    public void Dispose()
    {
        foreach (var point in HostMounts.MountPointsUnder(_dir)) HostMounts.Unmount(point);
        Directory.Delete(_dir, true);
    }

    private void Link(string relative, string target) => File.CreateSymbolicLink(Path.Combine(Volume, relative), target);

    /// <summary>Where the walk ends, as the kernel names the opened file.</summary>
    private string Open(string subPath, bool create = false)
    {
        var fd = VolumeSubPaths.OpenBeneath(Volume, subPath, create);
        try { return VolumeNative.PathOf(fd); }
        finally { VolumeNative.Close(fd); }
    }

    [Theory]
    [InlineData("escape", "escape")]                 // the link is the whole subPath
    [InlineData("a/escape", "a/escape")]             // the last component
    [InlineData("a/escape/secret", "a/escape")]      // a middle component, the file beyond it outside
    [InlineData("escape/secret", "escape")]          // the first component
    public void A_symlink_out_of_the_volume_is_refused_at_any_position(string subPath, string link)
    {
        Link(link, Outside);
        var e = Assert.Throws<SubPathWalkException>(() => Open(subPath));
        Assert.Contains("unexpected symlink found", e.Message);
        Assert.False(e.WhileCreating);
    }

    [Theory]
    [InlineData("up", "../..")]
    [InlineData("a/up", "../../../../../../../../..")]
    [InlineData("a/b/up", "../../../outside")]
    public void A_relative_symlink_climbing_out_of_the_volume_is_refused(string link, string target)
    {
        Link(link, target);
        var e = Assert.Throws<SubPathWalkException>(() => Open(link + "/secret"));
        Assert.Contains("outside of the volume", e.Message);
    }

    [Fact]
    public void Symlinks_that_stay_inside_the_volume_are_followed_as_kubelet_does_for_a_configMap_s_data_links()
    {
        // The atomic writer's layout: ..data -> timestamped dir, key -> ..data/key.
        Directory.CreateDirectory(Path.Combine(Volume, "..2026_12_01"));
        File.WriteAllText(Path.Combine(Volume, "..2026_12_01", "key"), "value");
        Link("..data", "..2026_12_01");
        Link("key", "..data/key");
        Assert.Equal(Path.Combine(Volume, "..2026_12_01", "key"), Open("key"));
        // An absolute link into the volume's own real path, and a relative one through '..' that stays inside.
        Link("abs", Path.Combine(Volume, "a", "b"));
        Assert.Equal(Path.Combine(Volume, "a", "b", "file"), Open("abs/file"));
        Link("a/b/back", "../../a");
        Assert.Equal(Path.Combine(Volume, "a", "b"), Open("a/b/back/b"));
    }

    [Fact]
    public void A_file_may_be_the_last_component_but_not_a_middle_one()
    {
        var fd = VolumeSubPaths.OpenBeneath(Volume, "a/b/file", createMissing: false);
        try { Assert.False(VolumeNative.Stat(fd).IsDirectory); }
        finally { VolumeNative.Close(fd); }
        var e = Assert.Throws<SubPathWalkException>(() => Open("a/b/file/more"));
        Assert.Contains("Not a directory", e.Message);
    }

    [Fact]
    public void Missing_directories_are_created_inside_with_the_volume_s_mode_but_never_through_a_link_out()
    {
        File.SetUnixFileMode(Volume, (UnixFileMode)0x1FF);
        Assert.Equal(Path.Combine(Volume, "new", "deeper"), Open("new/deeper", create: true));
        Assert.Equal((UnixFileMode)0x1FF, File.GetUnixFileMode(Path.Combine(Volume, "new", "deeper")));

        Link("dangling", Path.Combine(Outside, "made-by-attacker"));
        Assert.Throws<SubPathWalkException>(() => Open("dangling/x", create: true));
        Assert.False(Directory.Exists(Path.Combine(Outside, "made-by-attacker")));
        Assert.Throws<SubPathWalkException>(() => Open("missing", create: false));
    }

    [Fact]
    public void A_symlink_loop_is_refused()
    {
        Link("loop1", "loop2");
        Link("loop2", "loop1");
        Assert.Contains("too many levels of symbolic links", Assert.Throws<SubPathWalkException>(() => Open("loop1")).Message);
    }

    [Theory]
    [InlineData("/etc", "error SubPath `/etc` must not be an absolute path")]
    [InlineData("a/../../etc", "unable to provision SubPath `a/../../etc`: must not contain '..'")]
    [InlineData("..", "unable to provision SubPath `..`: must not contain '..'")]
    public void An_absolute_subPath_or_one_with_dot_dot_is_refused_with_kubelet_s_message(string subPath, string message)
        => Assert.Equal(message, Assert.Throws<ContainerConfigException>(() => VolumeSubPaths.SubPathOf(new V1VolumeMount { Name = "w", SubPath = subPath }, new Dictionary<string, string>())).Message);

    [Fact]
    public void SubPathExpr_is_expanded_from_the_environment_and_checked_like_a_subPath()
    {
        var env = new Dictionary<string, string> { ["POD_NAME"] = "web-1", ["ROOT"] = "/etc", ["UP"] = ".." };
        Assert.Equal("logs/web-1", VolumeSubPaths.SubPathOf(new V1VolumeMount { Name = "w", SubPathExpr = "logs/$(POD_NAME)" }, env));
        Assert.Equal("missing value for EMPTY, NOPE", Assert.Throws<ContainerConfigException>(() =>
            VolumeSubPaths.SubPathOf(new V1VolumeMount { Name = "w", SubPathExpr = "$(NOPE)/$(EMPTY)" }, new Dictionary<string, string>(env) { ["EMPTY"] = "" })).Message);
        Assert.Equal("error SubPath `/etc/x` must not be an absolute path", Assert.Throws<ContainerConfigException>(() =>
            VolumeSubPaths.SubPathOf(new V1VolumeMount { Name = "w", SubPathExpr = "$(ROOT)/x" }, env)).Message);
        Assert.Contains("must not contain '..'", Assert.Throws<ContainerConfigException>(() =>
            VolumeSubPaths.SubPathOf(new V1VolumeMount { Name = "w", SubPathExpr = "$(UP)/x" }, env)).Message);
        Assert.Null(VolumeSubPaths.SubPathOf(new V1VolumeMount { Name = "w" }, env));
    }

    [Fact]
    public void Bind_mounts_a_directory_and_a_file_checked_to_be_the_opened_inode_and_cleaning_unmounts_them_keeping_the_volume()
    {
        var subPaths = new VolumeSubPaths(Path.Combine(_dir, "root"));
        var dir = subPaths.Bind("uid1", "w", Volume, "app", 0, "a");
        var file = subPaths.Bind("uid1", "w", Volume, "app", 1, "a/b/file");
        Assert.Equal(subPaths.BindTarget("uid1", "w", "app", 0), dir);
        Assert.True(HostMounts.IsMountPoint(dir));
        Assert.True(HostMounts.IsMountPoint(file));
        Assert.Equal("inside", File.ReadAllText(Path.Combine(dir, "b", "file")));
        Assert.Equal("inside", File.ReadAllText(file));

        subPaths.CleanContainer("uid1", "app");
        Assert.Empty(HostMounts.MountPointsUnder(_dir));
        Assert.False(Directory.Exists(Path.Combine(subPaths.PodSubPathsDirectory("uid1"), "w", "app")));
        Assert.Equal("inside", File.ReadAllText(Path.Combine(Volume, "a", "b", "file")));
    }

    [Fact]
    public void A_new_instance_is_checked_afresh_after_the_directory_was_swapped_for_a_link_and_the_old_mount_is_gone()
    {
        var subPaths = new VolumeSubPaths(Path.Combine(_dir, "root"));
        var first = subPaths.Bind("uid1", "w", Volume, "app", 0, "late");
        Assert.True(HostMounts.IsMountPoint(first));
        // A sibling container swaps the directory for a link to / while the first instance runs.
        Directory.Delete(Path.Combine(Volume, "late"));
        Link("late", "/");

        subPaths.CleanContainer("uid1", "app");
        var e = Assert.Throws<SubPathException>(() => subPaths.Bind("uid1", "w", Volume, "app", 0, "late"));
        Assert.Contains("unexpected symlink found late -> /", e.Detail);
        Assert.Empty(HostMounts.MountPointsUnder(_dir));
    }

    [Fact]
    public void Bind_refuses_a_link_out_with_kubelet_s_message_and_says_what_it_found_in_the_detail()
    {
        Link("escape", "/");
        var subPaths = new VolumeSubPaths(Path.Combine(_dir, "root"));
        var e = Assert.Throws<SubPathException>(() => subPaths.Bind("uid1", "w", Volume, "app", 0, "escape"));
        Assert.Equal("failed to prepare subPath for volumeMount \"w\" of container \"app\"", e.Message);
        Assert.StartsWith("subPath escape of volume w: unexpected symlink found escape -> /", e.Detail);
        Assert.Empty(HostMounts.MountPointsUnder(_dir));

        File.WriteAllText(Path.Combine(Volume, "plain"), "");
        var create = Assert.Throws<SubPathException>(() => subPaths.Bind("uid1", "w", Volume, "app", 0, "plain/sub"));
        Assert.Equal("failed to prepare subPath for volumeMount \"w\" of container \"app\"", create.Message);
    }
}
