using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace KubeletPS.Core.Pods.Volumes;

/// <summary>
/// The libc calls the volume code needs to walk a volume through descriptors without following a
/// symlink a container may plant (openat with O_NOFOLLOW, mkdirat, readlinkat, statx, fchmod,
/// fchownat, close): the safe subPath walk and the fsGroup ownership walk.
/// </summary>
internal static class VolumeNative
{
    private static readonly bool Arm = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm;

    public const int ORdOnly = 0;
    public static readonly int ODirectory = Arm ? 0x4000 : 0x10000;
    public static readonly int ONoFollow = Arm ? 0x8000 : 0x20000;
    public const int OCloExec = 0x80000;
    public const int OPath = 0x200000;
    public const int ONonBlock = 0x800;

    public const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;

    public const int ENoEnt = 2;
    public const int EExist = 17;
    public const int ELoop = 40;

    public const int SIfMt = 0xF000;
    public const int SIfDir = 0x4000;
    public const int SIfLnk = 0xA000;
    public const int SIfReg = 0x8000;

    [DllImport("libc", SetLastError = true, EntryPoint = "openat")]
    private static extern int NativeOpenAt(int dirFd, string path, int flags, uint mode);

    [DllImport("libc", SetLastError = true, EntryPoint = "mkdirat")]
    private static extern int NativeMkdirAt(int dirFd, string path, uint mode);

    [DllImport("libc", SetLastError = true, EntryPoint = "readlinkat")]
    private static extern nint NativeReadLinkAt(int dirFd, string path, byte[] buffer, nint size);

    [DllImport("libc", SetLastError = true, EntryPoint = "statx")]
    private static extern int NativeStatx(int dirFd, string path, int flags, uint mask, byte[] buffer);

    [DllImport("libc", SetLastError = true, EntryPoint = "fchmod")]
    private static extern int NativeFchmod(int fd, uint mode);

    [DllImport("libc", SetLastError = true, EntryPoint = "close")]
    private static extern int NativeClose(int fd);

    [DllImport("libc", SetLastError = true, EntryPoint = "fchownat")]
    private static extern int NativeFchownAt(int dirFd, string path, int owner, int group, int flags);

    /// <summary>openat(2); returns the descriptor, or -1 with <paramref name="errno"/> set.</summary>
    public static int OpenAt(int dirFd, string path, int flags, out int errno)
    {
        var fd = NativeOpenAt(dirFd, path, flags | OCloExec, 0);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        return fd;
    }

    /// <summary>mkdirat(2); returns 0, or the errno.</summary>
    public static int MkdirAt(int dirFd, string name, uint mode) => NativeMkdirAt(dirFd, name, mode) == 0 ? 0 : Marshal.GetLastPInvokeError();

    public static int Fchmod(int fd, uint mode) => NativeFchmod(fd, mode) == 0 ? 0 : Marshal.GetLastPInvokeError();

    public static void Close(int fd) => NativeClose(fd);

    /// <summary>Sets the group of what <paramref name="fd"/> holds (fchownat with AT_EMPTY_PATH, so an O_PATH descriptor of a symlink changes the link itself); returns 0, or the errno.</summary>
    public static int FchownGroup(int fd, int group) => NativeFchownAt(fd, "", -1, group, AtEmptyPath) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>Like <see cref="Stat(int)"/>, without throwing: false when the descriptor cannot be read.</summary>
    public static bool TryStat(int fd, out FileIdentity identity) => TryStatx(fd, "", AtEmptyPath | AtSymlinkNoFollow, out identity);

    /// <summary>Like <see cref="LStat(string)"/>, without throwing: false when the path cannot be read.</summary>
    public static bool TryLStat(string path, out FileIdentity identity) => TryStatx(AtFdCwd, path, AtSymlinkNoFollow, out identity);

    /// <summary>The target of the symlink <paramref name="name"/> in the directory <paramref name="dirFd"/>.</summary>
    public static string ReadLinkAt(int dirFd, string name)
    {
        var buffer = new byte[4096];
        var length = NativeReadLinkAt(dirFd, name, buffer, buffer.Length);
        if (length < 0) throw Error($"readlink {name}", Marshal.GetLastPInvokeError());
        return Encoding.UTF8.GetString(buffer, 0, (int)length);
    }

    /// <summary>The type and identity of what <paramref name="fd"/> refers to (statx with AT_EMPTY_PATH, never following it).</summary>
    public static FileIdentity Stat(int fd) => Statx(fd, "", AtEmptyPath | AtSymlinkNoFollow, $"fd {fd}");

    /// <summary>The type and identity of <paramref name="path"/> itself (not what it links to).</summary>
    public static FileIdentity LStat(string path) => Statx(AtFdCwd, path, AtSymlinkNoFollow, path);

    private static FileIdentity Statx(int dirFd, string path, int flags, string what)
        => TryStatx(dirFd, path, flags, out var identity) ? identity : throw Error($"stat {what}", Marshal.GetLastPInvokeError());

    private static bool TryStatx(int dirFd, string path, int flags, out FileIdentity identity)
    {
        // struct statx is the same on every architecture: stx_gid at 24, stx_mode at 28, stx_ino at 32, stx_dev_major/minor at 136/140.
        var buffer = new byte[256];
        if (NativeStatx(dirFd, path, flags, StatxBasicStats, buffer) != 0)
        {
            identity = default;
            return false;
        }
        identity = new FileIdentity(
            BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(28)),
            BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(32)),
            BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(136)),
            BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(140)),
            BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(24)));
        return true;
    }

    /// <summary>The path the kernel has for <paramref name="fd"/> (readlink of /proc/self/fd/N).</summary>
    public static string PathOf(int fd) => ReadLinkAt(AtFdCwd, FdPath(fd));

    /// <summary>The magic link through which a bind mount reaches exactly the file <paramref name="fd"/> holds.</summary>
    public static string FdPath(int fd) => $"/proc/self/fd/{fd}";

    public static IOException Error(string what, int errno) => new($"{what}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
}

/// <summary>What statx says of a file: its type and permission bits, its inode on its device, and its group.</summary>
internal readonly record struct FileIdentity(int Mode, ulong Inode, uint DeviceMajor, uint DeviceMinor, uint Gid = 0)
{
    public bool IsDirectory => (Mode & VolumeNative.SIfMt) == VolumeNative.SIfDir;
    public bool IsSymlink => (Mode & VolumeNative.SIfMt) == VolumeNative.SIfLnk;
    public bool IsRegularFile => (Mode & VolumeNative.SIfMt) == VolumeNative.SIfReg;
    public bool SameFile(FileIdentity other) => Inode == other.Inode && DeviceMajor == other.DeviceMajor && DeviceMinor == other.DeviceMinor;
}
