using KubeletPS.Core.Stats;

namespace KubeletPS.Core.Cm;

/// <summary>
/// kubelet's CgroupManager: cgroups by driver-independent name, created, updated and destroyed on the
/// node's cgroup file systems. Errors are <see cref="CgroupException"/>s naming the file.
/// </summary>
public interface ICgroupManager
{
    CgroupDriver Driver { get; }
    CgroupVersion Version { get; }

    /// <summary>The name as the driver writes it (what CRI's cgroup_parent carries).</summary>
    string Name(CgroupName name);

    bool Exists(CgroupName name);

    /// <summary>Creates the cgroup (and its parents) and applies <paramref name="resources"/>.</summary>
    void Create(CgroupName name, ResourceConfig resources);

    /// <summary>Applies <paramref name="resources"/> to an existing cgroup.</summary>
    void Update(CgroupName name, ResourceConfig resources);

    /// <summary>Removes the cgroup and every cgroup below it; fails while a process is still in one.</summary>
    void Destroy(CgroupName name);

    /// <summary>Whether a process is still in the cgroup or one below it (cgroup.procs).</summary>
    bool HasProcesses(CgroupName name);

    /// <summary>The cgroups directly below <paramref name="name"/>, by name.</summary>
    IReadOnlyList<CgroupName> Children(CgroupName name);
}

/// <summary>A cgroup that could not be created, written or removed; <see cref="KubeletException.Target"/> is the file.</summary>
public sealed class CgroupException(string message, string? path, Exception? inner = null)
    : KubeletException(message, KubeletErrorKind.InvalidData, path, inner);
