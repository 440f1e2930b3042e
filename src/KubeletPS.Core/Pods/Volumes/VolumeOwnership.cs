using k8s.Models;
using static KubeletPS.Core.Pods.Volumes.VolumeNative;

namespace KubeletPS.Core.Pods.Volumes;

/// <summary>
/// Kubelet's SetVolumeOwnership (pkg/volume/volume_linux.go) for the pod's fsGroup: every file and directory of a
/// volume that supports ownership (emptyDir, configMap, secret, downwardAPI, projected; never hostPath) gets the
/// group fsGroup and group read (and write, unless the volume is read-only), directories also setgid and group
/// search, so files created later inherit the group. Symlinks get the group only. With fsGroupChangePolicy
/// OnRootMismatch nothing is walked when the volume's root already has the group and those permissions.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public static class VolumeOwnership
{
    private const UnixFileMode ReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite; // 0660
    private const UnixFileMode ReadOnly = UnixFileMode.UserRead | UnixFileMode.GroupRead; // 0440
    private const UnixFileMode Execute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute; // 0110

    /// <summary>Applies the pod's fsGroup to each prepared volume that supports ownership.</summary>
    /// <param name="paths">Volume name to its directory on the host, as prepared.</param>
    public static void Apply(V1Pod pod, IReadOnlyDictionary<string, string> paths)
    {
        if (pod.Spec.SecurityContext?.FsGroup is not { } fsGroup) return;
        var policy = pod.Spec.SecurityContext.FsGroupChangePolicy;
        foreach (var volume in pod.Spec.Volumes ?? [])
        {
            if (!paths.TryGetValue(volume.Name, out var dir)) continue;
            if (volume.EmptyDir is not null)
            {
                // As kubelet, once, when the emptyDir is set up: later its files are the containers' own, and walking
                // a directory a container is changing would follow what it plants there.
                var marker = Path.Combine(Path.GetDirectoryName(dir)!, $".{volume.Name}.fsgroup");
                if (File.Exists(marker)) continue;
                SetVolumeOwnership(dir, fsGroup, policy, readOnly: false);
                File.WriteAllText(marker, fsGroup.ToString(System.Globalization.CultureInfo.InvariantCulture));
                continue;
            }
            // Kubelet writes these itself and sets their ownership at each set-up.
            if (volume.ConfigMap is not null || volume.Secret is not null || volume.DownwardAPI is not null || volume.Projected is not null)
                SetVolumeOwnership(dir, fsGroup, policy, readOnly: true);
        }
    }

    public static void SetVolumeOwnership(string dir, long fsGroup, string? fsGroupChangePolicy, bool readOnly)
    {
        if (fsGroupChangePolicy == "OnRootMismatch" && !RequiresPermissionChange(dir, fsGroup, readOnly)) return;
        var root = OpenAt(AtFdCwd, dir, ODirectory | ONoFollow, out var errno);
        if (root < 0) throw Error("cannot open volume directory", dir, errno);
        try { Walk(root, dir, fsGroup, readOnly); }
        finally { Close(root); }
    }

    /// <summary>Whether the root lacks the group, the permissions or setgid (kubelet's requiresPermissionChange).</summary>
    public static bool RequiresPermissionChange(string dir, long fsGroup, bool readOnly)
    {
        if (!TryStat(dir, out var gid, out var mode)) return true;
        if (gid != fsGroup) return true;
        if ((mode & SIfMt) != SIfDir) return true;
        var wanted = (int)((readOnly ? ReadOnly : ReadWrite) | Execute);
        return (mode & wanted) != wanted || (mode & (int)UnixFileMode.SetGroup) == 0;
    }

    /// <summary>
    /// Changes the open directory <paramref name="dirFd"/> and everything under it. Each entry is opened relative to its
    /// parent's descriptor without following symlinks, and changed through its own descriptor: a container that swaps a
    /// file or directory for a symlink while the walk runs cannot make it change anything outside the volume.
    /// </summary>
    private static void Walk(int dirFd, string path, long fsGroup, bool readOnly)
    {
        ChangeFilePermission(dirFd, path, fsGroup, readOnly, isDirectory: true);
        foreach (var name in Directory.EnumerateFileSystemEntries(FdPath(dirFd)).Select(Path.GetFileName).OfType<string>().ToList())
        {
            var childPath = Path.Combine(path, name);
            var fd = OpenAt(dirFd, name, OPath | ONoFollow, out _);
            if (fd < 0) continue; // removed meanwhile
            try
            {
                if (!VolumeNative.TryStat(fd, out var entry)) continue;
                switch (entry.Mode & SIfMt)
                {
                    case SIfLnk:
                        // The link itself gets the group; what it points to is left alone.
                        if (FchownGroup(fd, (int)fsGroup) is not 0 and var linkErrno) throw Error($"cannot set group {fsGroup} on", childPath, linkErrno);
                        break;
                    case SIfDir:
                        var dir = OpenAt(dirFd, name, ODirectory | ONoFollow, out _);
                        if (dir < 0) continue;
                        try { Walk(dir, childPath, fsGroup, readOnly); }
                        finally { Close(dir); }
                        break;
                    default:
                        ChangeFilePermission(fd, childPath, fsGroup, readOnly, isDirectory: false);
                        break;
                }
            }
            finally { Close(fd); }
        }
    }

    private static void ChangeFilePermission(int fd, string path, long fsGroup, bool readOnly, bool isDirectory)
    {
        if (FchownGroup(fd, (int)fsGroup) is not 0 and var errno) throw Error($"cannot set group {fsGroup} on", path, errno);
        var mask = readOnly ? ReadOnly : ReadWrite;
        if (isDirectory) mask |= UnixFileMode.SetGroup | Execute;
        // Through /proc/self/fd: the inode this descriptor holds, whatever the path now names.
        var target = FdPath(fd);
        File.SetUnixFileMode(target, File.GetUnixFileMode(target) | mask);
    }

    /// <summary>The group and mode of <paramref name="path"/> itself (not what it links to); false when it cannot be read.</summary>
    public static bool TryStat(string path, out long gid, out int mode)
    {
        var found = TryLStat(path, out var identity);
        (gid, mode) = found ? (identity.Gid, identity.Mode) : (-1L, 0);
        return found;
    }

    private static IOException Error(string what, string path, int errno) => VolumeNative.Error($"{what} {path}", errno);
}
