using KubeletPS.Core.Cm;
using static KubeletPS.Core.Tests.Cm.CmTestPods;

namespace KubeletPS.Core.Tests.Cm;

/// <summary>
/// Attack: a pod whose UID holds a path ("x/../../../escape") — from a manifest or an API server that does
/// not generate UIDs — must not make the agent create, write or remove a cgroup outside kubepods.
/// </summary>
public sealed class PodCgroupPathAttackTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kps-cgattack-" + Guid.NewGuid().ToString("N")[..8]);

    public PodCgroupPathAttackTests()
    {
        foreach (var controller in new[] { "cpu", "cpuacct", "memory", "pids" }) Directory.CreateDirectory(Path.Combine(_root, controller));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("x/../../../escape")]
    [InlineData("../../../../escape")]
    public void A_uid_with_a_path_creates_nothing_outside_kubepods(string uid)
    {
        var manager = new ContainerManager(new ContainerManagerOptions { CgroupRoot = "/kps", CgroupFileSystemRoot = _root }, () => new NodeCapacity(1000, 1L << 30, 1000), NullKubeletLog.Instance);
        manager.Start([]);
        var pod = Pod([(null, null)], [], null, uid: uid);
        var error = Assert.ThrowsAny<KubeletException>(() => manager.EnsurePodCgroup(pod, []));
        Assert.Contains(uid, error.Message, StringComparison.Ordinal);
        var outside = Directory.EnumerateDirectories(Path.Combine(_root, "memory"), "*", SearchOption.AllDirectories)
            .Where(d => !(d + "/").StartsWith(Path.Combine(_root, "memory", "kps", "kubepods") + "/", StringComparison.Ordinal)
                && d != Path.Combine(_root, "memory", "kps"))
            .ToList();
        Assert.Empty(outside);
    }
}
