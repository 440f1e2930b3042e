using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Tests.Pods.Admission;

namespace KubeletPS.Core.Tests.Pods.KubeRuntime;

/// <summary>Kubelet's resolution of seccomp, runAsNonRoot and volume ownership, without a runtime.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PodSecurityContextsTests : IDisposable
{
    private readonly string _root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "kps-psc-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static k8s.Models.V1Pod Pod(string podSecurity, string containerSecurity) =>
        PodSecurityAdmissionTests.Pod($"  securityContext: {podSecurity}\n  containers: [{{name: c, image: busybox, securityContext: {containerSecurity}}}]");

    [Theory]
    [InlineData("{}", "{}", false, SecurityProfileType.Unconfined)]
    [InlineData("{}", "{}", true, SecurityProfileType.RuntimeDefault)]
    [InlineData("{seccompProfile: {type: RuntimeDefault}}", "{}", false, SecurityProfileType.RuntimeDefault)]
    [InlineData("{seccompProfile: {type: Unconfined}}", "{}", true, SecurityProfileType.Unconfined)]
    [InlineData("{seccompProfile: {type: Unconfined}}", "{seccompProfile: {type: RuntimeDefault}}", false, SecurityProfileType.RuntimeDefault)]
    [InlineData("{seccompProfile: {type: RuntimeDefault}}", "{seccompProfile: {type: Unconfined}}", true, SecurityProfileType.Unconfined)]
    public void ContainerSeccompOverridesThePodsAndSeccompDefaultFillsAnUnsetOne(string podSecurity, string containerSecurity, bool seccompDefault, SecurityProfileType expected)
    {
        var pod = Pod(podSecurity, containerSecurity);
        var profile = PodSecurityContexts.Seccomp(pod, pod.Spec.Containers[0], new PodSecuritySettings { SeccompDefault = seccompDefault });
        Assert.Equal(expected, profile.Type);
    }

    [Theory]
    [InlineData("", "localhostProfile must be set if seccompProfile type is Localhost.")]
    [InlineData("/etc/profile.json", "must be a path relative to")]
    [InlineData("a/../../profile.json", "must be a path relative to")]
    [InlineData("absent.json", "does not exist on this node")]
    public void LocalhostSeccompProfileIsRefusedUnlessItIsAFileUnderTheRoot(string name, string message)
    {
        var pod = Pod("{}", $"{{seccompProfile: {{type: Localhost, localhostProfile: '{name}'}}}}");
        var e = Assert.Throws<ContainerConfigException>(() => PodSecurityContexts.Seccomp(pod, pod.Spec.Containers[0], new PodSecuritySettings { SeccompProfileRoot = _root }));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Localhost_seccomp_profile_is_the_file_under_the_root()
    {
        Directory.CreateDirectory(Path.Combine(_root, "p"));
        File.WriteAllText(Path.Combine(_root, "p", "x.json"), "{}");
        var pod = Pod("{seccompProfile: {type: Localhost, localhostProfile: p/x.json}}", "{}");
        var profile = PodSecurityContexts.Seccomp(pod, pod.Spec.Containers[0], new PodSecuritySettings { SeccompProfileRoot = _root });
        Assert.Equal(new SecurityProfileSpec(SecurityProfileType.Localhost, Path.Combine(_root, "p", "x.json")), profile);
    }

    [Theory]
    [InlineData("{runAsNonRoot: true}", "{}", 1000L, "", null)]
    [InlineData("{runAsNonRoot: true}", "{}", 0L, "", "container has runAsNonRoot and image will run as root (pod: \"p_default(uid-p)\", container: c)")]
    [InlineData("{runAsNonRoot: true}", "{}", null, "", "container has runAsNonRoot and image will run as root (pod: \"p_default(uid-p)\", container: c)")]
    [InlineData("{runAsNonRoot: true}", "{}", null, "app", "container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root (pod: \"p_default(uid-p)\", container: c)")]
    [InlineData("{runAsNonRoot: true, runAsUser: 5}", "{}", 0L, "", null)]
    [InlineData("{runAsNonRoot: true}", "{runAsUser: 0}", 1000L, "", "container's runAsUser breaks non-root policy (pod: \"p_default(uid-p)\", container: c)")]
    [InlineData("{runAsNonRoot: true}", "{runAsNonRoot: false}", 0L, "", null)]
    [InlineData("{}", "{}", 0L, "", null)]
    public void RunAsNonRootIsKubeletsVerifyRunAsNonRoot(string podSecurity, string containerSecurity, long? uid, string username, string? error)
    {
        var pod = Pod(podSecurity, containerSecurity);
        var e = Record.Exception(() => PodSecurityContexts.VerifyRunAsNonRoot(pod, pod.Spec.Containers[0], uid, username));
        Assert.Equal(error, e?.Message);
        if (e is not null) Assert.IsType<ContainerConfigException>(e);
    }

    [Fact]
    public void FsGroup_ownership_gives_the_group_setgid_and_group_access_without_following_symlinks()
    {
        var volume = Directory.CreateDirectory(Path.Combine(_root, "vol")).FullName;
        var outside = Path.Combine(_root, "outside");
        File.WriteAllText(outside, "host");
        File.SetUnixFileMode(outside, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Directory.CreateDirectory(Path.Combine(volume, "sub"));
        File.WriteAllText(Path.Combine(volume, "sub", "f"), "");
        File.SetUnixFileMode(Path.Combine(volume, "sub", "f"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.CreateSymbolicLink(Path.Combine(volume, "escape"), outside);
        Directory.CreateSymbolicLink(Path.Combine(volume, "escape-dir"), _root);

        VolumeOwnership.SetVolumeOwnership(volume, 4321, null, readOnly: false);

        Assert.True(VolumeOwnership.TryStat(Path.Combine(volume, "sub"), out var gid, out var mode));
        Assert.Equal(4321, gid);
        Assert.NotEqual(0, mode & (int)UnixFileMode.SetGroup);
        Assert.True(VolumeOwnership.TryStat(Path.Combine(volume, "sub", "f"), out gid, out mode));
        Assert.Equal(4321, gid);
        Assert.Equal(0x1B0, mode & 0x1FF); // 0660
        Assert.True(VolumeOwnership.TryStat(Path.Combine(volume, "escape"), out gid, out _));
        Assert.Equal(4321, gid); // the link itself
        Assert.True(VolumeOwnership.TryStat(outside, out gid, out mode));
        Assert.NotEqual(4321, gid); // not what it points to
        Assert.Equal(0x180, mode & 0x1FF);
        Assert.True(VolumeOwnership.TryStat(_root, out gid, out _));
        Assert.NotEqual(4321, gid);
        Assert.False(VolumeOwnership.RequiresPermissionChange(volume, 4321, readOnly: false));
        Assert.True(VolumeOwnership.RequiresPermissionChange(volume, 4322, readOnly: false));
    }
}
