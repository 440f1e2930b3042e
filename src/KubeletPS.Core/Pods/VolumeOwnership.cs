using System.ComponentModel;
using System.Runtime.InteropServices;
using k8s.Models;

namespace KubeletPS.Core.Pods;

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
        ChangeFilePermission(dir, fsGroup, readOnly);
        Walk(dir, fsGroup, readOnly);
    }

    /// <summary>Whether the root lacks the group, the permissions or setgid (kubelet's requiresPermissionChange).</summary>
    public static bool RequiresPermissionChange(string dir, long fsGroup, bool readOnly)
    {
        if (!TryStat(dir, out var gid, out var mode)) return true;
        if (gid != fsGroup) return true;
        if ((mode & 0xF000) != 0x4000) return true; // not a directory
        var wanted = (int)((readOnly ? ReadOnly : ReadWrite) | Execute);
        return (mode & wanted) != wanted || (mode & (int)UnixFileMode.SetGroup) == 0;
    }

    private static void Walk(string dir, long fsGroup, bool readOnly)
    {
        foreach (var entry in new DirectoryInfo(dir).EnumerateFileSystemInfos())
        {
            ChangeFilePermission(entry.FullName, fsGroup, readOnly);
            // Never into a symlinked directory: it may point out of the volume.
            if (entry is DirectoryInfo && entry.LinkTarget is null) Walk(entry.FullName, fsGroup, readOnly);
        }
    }

    private static void ChangeFilePermission(string path, long fsGroup, bool readOnly)
    {
        if (Lchown(path, -1, (int)fsGroup) != 0)
            throw new IOException($"cannot set group {fsGroup} on {path}: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
        var info = new FileInfo(path);
        if (info.LinkTarget is not null) return;
        var mask = readOnly ? ReadOnly : ReadWrite;
        if (info.Attributes.HasFlag(FileAttributes.Directory)) mask |= UnixFileMode.SetGroup | Execute;
        File.SetUnixFileMode(path, File.GetUnixFileMode(path) | mask);
    }

    /// <summary>The group and mode of <paramref name="path"/> itself (statx, whose layout is the same on every architecture).</summary>
    public static bool TryStat(string path, out long gid, out int mode)
    {
        var buffer = new byte[256];
        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
        {
            gid = -1;
            mode = 0;
            return false;
        }
        gid = BitConverter.ToUInt32(buffer, 24);
        mode = BitConverter.ToUInt16(buffer, 28);
        return true;
    }

    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;

    [DllImport("libc", SetLastError = true, EntryPoint = "lchown")]
    private static extern int Lchown(string path, int owner, int group);

    [DllImport("libc", SetLastError = true, EntryPoint = "statx")]
    private static extern int Statx(int dirfd, string path, int flags, uint mask, byte[] buffer);
}
