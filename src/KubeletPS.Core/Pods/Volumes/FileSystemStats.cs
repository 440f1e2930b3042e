using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace KubeletPS.Core.Pods.Volumes;

/// <summary>statfs(2) of a file system: its type (magic number), block size, and blocks in all and free.</summary>
public sealed record FileSystemStats(uint Type, long BlockSize, long Blocks, long FreeBlocks)
{
    /// <summary>Bytes in use: what a tmpfs holds (kubelet measures a Memory emptyDir this way).</summary>
    public long UsedBytes => (Blocks - FreeBlocks) * BlockSize;

    public long SizeBytes => Blocks * BlockSize;

    [DllImport("libc", SetLastError = true, EntryPoint = "statfs")]
    private static extern int NativeStatfs(string path, byte[] buffer);

    [DllImport("libc", SetLastError = true, EntryPoint = "lstat")]
    private static extern int NativeLstat(string path, byte[] buffer);

    /// <summary>statfs of <paramref name="path"/>; null when it cannot be read (gone, not Linux).</summary>
    public static FileSystemStats? Read(string path)
    {
        if (!OperatingSystem.IsLinux()) return null;
        // struct statfs on 64-bit Linux: f_type, f_bsize (long), f_blocks, f_bfree (unsigned long), ...
        var buffer = new byte[256];
        if (NativeStatfs(path, buffer) != 0) return null;
        return new FileSystemStats((uint)BinaryPrimitives.ReadInt64LittleEndian(buffer), BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(8)),
            BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(16)), BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(24)));
    }

    /// <summary>
    /// The bytes allocated to a directory tree, as kubelet's fs.DiskUsage measures an emptyDir on
    /// disk: st_blocks × 512 of every entry (lstat: symlinks are not followed), each inode once, and
    /// not descending into another file system mounted below it. Null when the root cannot be read.
    /// </summary>
    public static long? DiskUsage(string directory)
    {
        if (!OperatingSystem.IsLinux() || Lstat(directory) is not { } root) return null;
        var seen = new HashSet<(ulong, ulong)> { (root.Device, root.Inode) };
        var total = root.Blocks * 512;
        var pending = new Stack<string>();
        pending.Push(directory);
        while (pending.Count > 0)
        {
            IEnumerable<FileSystemInfo> entries;
            try { entries = new DirectoryInfo(pending.Pop()).EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = true }).ToList(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (var entry in entries)
            {
                // An entry removed meanwhile (the container writes as we walk) is simply not counted.
                if (Lstat(entry.FullName) is not { } stat || stat.Device != root.Device) continue;
                if (!seen.Add((stat.Device, stat.Inode))) continue;
                total += stat.Blocks * 512;
                if (entry is DirectoryInfo && entry.LinkTarget is null) pending.Push(entry.FullName);
            }
        }
        return total;
    }

    private readonly record struct StatInfo(ulong Device, ulong Inode, long Blocks);

    private static StatInfo? Lstat(string path)
    {
        // struct stat on x86_64 and arm64 alike: st_dev at 0, st_ino at 8, st_blocks at 64.
        var buffer = new byte[256];
        if (NativeLstat(path, buffer) != 0) return null;
        return new StatInfo(BinaryPrimitives.ReadUInt64LittleEndian(buffer), BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(8)),
            BinaryPrimitives.ReadInt64LittleEndian(buffer.AsSpan(64)));
    }
}
