using System.Runtime.InteropServices;

namespace KubeletPS.Core.Pods.Volumes;

/// <summary>
/// The node's mount table as the volume code needs it: mount(2) and umount2(2), the mounts under a
/// directory (from /proc/self/mountinfo), and removing a pod directory without ever descending
/// into something mounted there (a subPath bind mount or a tmpfs), as kubelet's
/// cleanupOrphanedPodDirs refuses to remove a directory that is still a mount point.
/// </summary>
public static class HostMounts
{
    public const ulong MsReadOnly = 0x1;
    public const ulong MsNoSuid = 0x2;
    public const ulong MsNoDev = 0x4;
    public const ulong MsRemount = 0x20;
    public const ulong MsBind = 0x1000;
    public const ulong MsRec = 0x4000;
    public const ulong MsPrivate = 0x40000;
    private const int MntDetach = 0x2;

    [DllImport("libc", SetLastError = true, EntryPoint = "mount")]
    private static extern int NativeMount(string? source, string target, string? fileSystemType, ulong flags, string? data);

    [DllImport("libc", SetLastError = true, EntryPoint = "umount2")]
    private static extern int NativeUnmount(string target, int flags);

    /// <summary>mount(2); throws <see cref="IOException"/> with the system's reason when it fails.</summary>
    public static void Mount(string? source, string target, string? fileSystemType, ulong flags, string? data = null)
    {
        if (NativeMount(source, target, fileSystemType, flags, data) != 0)
        {
            throw VolumeNative.Error($"mount {source ?? "(none)"} on {target} ({fileSystemType ?? "bind"}) failed", Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>Detaches the mount at <paramref name="target"/> (lazy, as kubelet's CleanupMountPoint ends up doing).</summary>
    public static void Unmount(string target)
    {
        if (NativeUnmount(target, MntDetach) != 0)
        {
            throw VolumeNative.Error($"umount {target} failed", Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>The mount points at or below <paramref name="directory"/>, deepest first.</summary>
    public static IReadOnlyList<string> MountPointsUnder(string directory)
    {
        var root = Path.GetFullPath(directory).TrimEnd('/');
        var found = new List<string>();
        if (!File.Exists("/proc/self/mountinfo")) return found;
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // id parent major:minor root mount-point options ... ; the mount point is field 5, octal-escaped.
            var fields = line.Split(' ');
            if (fields.Length < 5) continue;
            var point = Unescape(fields[4]);
            if (point == root || point.StartsWith(root + "/", StringComparison.Ordinal)) found.Add(point);
        }
        return found.Distinct().OrderByDescending(p => p.Length).ToList();
    }

    public static bool IsMountPoint(string path) => MountPointsUnder(path).Contains(Path.GetFullPath(path).TrimEnd('/'));

    /// <summary>
    /// Unmounts everything mounted at or below <paramref name="directory"/>, then removes it. If a
    /// mount cannot be removed the directory is left in place (never deleted through the mount) and
    /// the failure is thrown.
    /// </summary>
    public static void RemoveDirectory(string directory)
    {
        if (!Directory.Exists(directory)) return;
        foreach (var point in MountPointsUnder(directory))
        {
            // A mount point can be stacked several times; unmount until it is gone.
            for (var i = 0; i < 16 && MountPointsUnder(point).Contains(point); i++) Unmount(point);
        }
        var left = MountPointsUnder(directory);
        if (left.Count > 0) throw new IOException($"{directory} is not removed: {left[0]} is still mounted.");
        Directory.Delete(directory, recursive: true);
    }

    private static string Unescape(string field)
    {
        if (!field.Contains('\\')) return field;
        var builder = new System.Text.StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                builder.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else builder.Append(field[i]);
        }
        return builder.ToString();
    }

    private static bool IsOctal(string s, int at) => at + 3 <= s.Length && s.Substring(at, 3).All(c => c is >= '0' and <= '7');
}
