using System.ComponentModel;
using System.Runtime.InteropServices;
using k8s.Models;

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
        var root = OpenAt(AtFdCwd, dir, ODirectory | ONoFollow);
        if (root < 0) throw Error("cannot open volume directory", dir);
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
            var fd = OpenAt(dirFd, name, OPath | ONoFollow);
            if (fd < 0) continue; // removed meanwhile
            try
            {
                if (!TryStat(fd, out _, out var mode)) continue;
                switch (mode & SIfMt)
                {
                    case SIfLnk:
                        // The link itself gets the group; what it points to is left alone.
                        if (FchownAt(fd, "", -1, (int)fsGroup, AtEmptyPath) != 0) throw Error($"cannot set group {fsGroup} on", childPath);
                        break;
                    case SIfDir:
                        var dir = OpenAt(dirFd, name, ODirectory | ONoFollow);
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
        if (FchownAt(fd, "", -1, (int)fsGroup, AtEmptyPath) != 0) throw Error($"cannot set group {fsGroup} on", path);
        var mask = readOnly ? ReadOnly : ReadWrite;
        if (isDirectory) mask |= UnixFileMode.SetGroup | Execute;
        // Through /proc/self/fd: the inode this descriptor holds, whatever the path now names.
        var target = FdPath(fd);
        File.SetUnixFileMode(target, File.GetUnixFileMode(target) | mask);
    }

    private static string FdPath(int fd) => "/proc/self/fd/" + fd.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static IOException Error(string what, string path) =>
        new($"{what} {path}: {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");

    /// <summary>The group and mode of <paramref name="path"/> itself (statx, whose layout is the same on every architecture).</summary>
    public static bool TryStat(string path, out long gid, out int mode) => TryStat(AtFdCwd, path, AtSymlinkNoFollow, out gid, out mode);

    private static bool TryStat(int fd, out long gid, out int mode) => TryStat(fd, "", AtEmptyPath | AtSymlinkNoFollow, out gid, out mode);

    private static bool TryStat(int dirFd, string path, int flags, out long gid, out int mode)
    {
        var buffer = new byte[256];
        if (Statx(dirFd, path, flags, StatxBasicStats, buffer) != 0)
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
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;
    private const int SIfMt = 0xF000, SIfDir = 0x4000, SIfLnk = 0xA000;

    // open(2) flags differ between architectures: arm and arm64 use the generic values, x86 its own.
    private static readonly bool GenericFlags = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm;
    private static readonly int ODirectory = GenericFlags ? 0x4000 : 0x10000;
    private static readonly int ONoFollow = GenericFlags ? 0x8000 : 0x20000;
    private const int OPath = 0x200000;
    private const int OCloExec = 0x80000;

    private static int OpenAt(int dirFd, string path, int flags) => OpenAtNative(dirFd, path, flags | OCloExec);

    [DllImport("libc", SetLastError = true, EntryPoint = "openat")]
    private static extern int OpenAtNative(int dirfd, string path, int flags);

    [DllImport("libc", SetLastError = true, EntryPoint = "close")]
    private static extern int Close(int fd);

    [DllImport("libc", SetLastError = true, EntryPoint = "fchownat")]
    private static extern int FchownAt(int dirfd, string path, int owner, int group, int flags);

    [DllImport("libc", SetLastError = true, EntryPoint = "statx")]
    private static extern int Statx(int dirfd, string path, int flags, uint mask, byte[] buffer);
}
