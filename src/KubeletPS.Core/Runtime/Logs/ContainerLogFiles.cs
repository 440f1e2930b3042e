using KubeletPS.Core.Pods.Volumes;
using Microsoft.Win32.SafeHandles;

namespace KubeletPS.Core.Runtime.Logs;

/// <summary>
/// The files that make up one container's log, as kubelet's log manager names them
/// (pkg/kubelet/logs/container_log_manager.go): the file the runtime writes (<c>0.log</c>), the
/// rotated ones <c>0.log.20060102-150405</c> (the latest left plain so a reader can finish it), the
/// older ones gzipped (<c>.gz</c>), and <c>.tmp</c> files of a compression that did not finish.
/// Files are opened without following a symlink: a link planted in the log directory
/// (<c>0.log.20261201-101010 → /etc/shadow</c>) must not be served as a log.
/// </summary>
public static class ContainerLogFiles
{
    /// <summary>kubelet's timestampFormat for the suffix of a rotated log (Go's 20060102-150405).</summary>
    public const string TimestampFormat = "yyyyMMdd-HHmmss";

    public const string CompressSuffix = ".gz";
    public const string TempSuffix = ".tmp";

    private const int SIfReg = 0x8000;
    private const int ELoop = 40;

    /// <summary>
    /// kubelet's GetAllLogs: the rotated files still in use, oldest first (by name, as the timestamp
    /// sorts), then <paramref name="log"/> itself. Whether each one is a regular file is checked on open.
    /// </summary>
    public static IReadOnlyList<string> AllLogs(string log)
    {
        ArgumentException.ThrowIfNullOrEmpty(log);
        var (inUse, _) = FilterUnused(Rotated(log));
        return [.. inUse.Order(StringComparer.Ordinal), log];
    }

    /// <summary>Every file named <c>{log}.*</c> beside <paramref name="log"/> (kubelet's glob), in no order.</summary>
    public static IReadOnlyList<string> Rotated(string log)
    {
        ArgumentException.ThrowIfNullOrEmpty(log);
        var directory = Path.GetDirectoryName(log);
        if (string.IsNullOrEmpty(directory) || !Directory.Exists(directory)) return [];
        var prefix = Path.GetFileName(log) + ".";
        try
        {
            return [.. Directory.EnumerateFileSystemEntries(directory, prefix + "*").Where(p => Path.GetFileName(p).StartsWith(prefix, StringComparison.Ordinal))];
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
    }

    /// <summary>
    /// kubelet's filterUnusedLogs: temporary files are unused, compressed ones in use, and a plain file
    /// whose <c>.gz</c> exists is unused (its compression finished, the removal did not).
    /// </summary>
    public static (IReadOnlyList<string> InUse, IReadOnlyList<string> Unused) FilterUnused(IReadOnlyCollection<string> logs)
    {
        ArgumentNullException.ThrowIfNull(logs);
        var all = logs.ToHashSet(StringComparer.Ordinal);
        var inUse = new List<string>();
        var unused = new List<string>();
        foreach (var l in logs)
        {
            var used = !l.EndsWith(TempSuffix, StringComparison.Ordinal)
                && (l.EndsWith(CompressSuffix, StringComparison.Ordinal) || !all.Contains(l + CompressSuffix));
            (used ? inUse : unused).Add(l);
        }
        return (inUse, unused);
    }

    /// <summary>The name a log gets when rotated at <paramref name="now"/> (kubelet formats its clock's local time).</summary>
    public static string RotatedName(string log, DateTimeOffset now)
        => $"{log}.{now.ToString(TimestampFormat, System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>
    /// Opens a log file for reading without following a symlink in its last component; null when it
    /// does not exist. <see cref="UnsafeLogFileException"/> when it is a symlink or not a regular file.
    /// </summary>
    public static FileStream? OpenNoFollow(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!OperatingSystem.IsLinux())
        {
            if (new FileInfo(path) is { Exists: true, LinkTarget: not null }) throw new UnsafeLogFileException(path, "is a symbolic link");
            try { return new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite | FileShare.Delete }); }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException) { return null; }
        }
        var fd = VolumeNative.OpenAt(VolumeNative.AtFdCwd, path, VolumeNative.ORdOnly | VolumeNative.ONoFollow, out var errno);
        if (fd < 0)
        {
            return errno switch
            {
                VolumeNative.ENoEnt => null,
                ELoop => throw new UnsafeLogFileException(path, "is a symbolic link"),
                _ => throw VolumeNative.Error($"open {path}", errno),
            };
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (!VolumeNative.TryStat(fd, out var identity)) throw new IOException($"stat {path}: cannot read the opened file");
            if ((identity.Mode & VolumeNative.SIfMt) != SIfReg) throw new UnsafeLogFileException(path, "is not a regular file");
            return new FileStream(handle, FileAccess.Read, bufferSize: 0);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// True when <paramref name="path"/> now names another file than <paramref name="open"/> holds: the
    /// log manager renamed the file and the runtime reopened a new one. False while nothing is at the
    /// path yet (the reopen has not happened) or where the identity cannot be read.
    /// </summary>
    public static bool IsReplaced(FileStream open, string path)
    {
        ArgumentNullException.ThrowIfNull(open);
        if (!OperatingSystem.IsLinux()) return false;
        var fd = (int)open.SafeFileHandle.DangerousGetHandle();
        return VolumeNative.TryStat(fd, out var held) && VolumeNative.TryLStat(path, out var named) && !held.SameFile(named);
    }
}

/// <summary>A file in a container's log directory that is not read: a symlink, or not a regular file.</summary>
public sealed class UnsafeLogFileException(string path, string problem)
    : IOException($"container log file {path} {problem}; it is not read")
{
    public string FilePath { get; } = path;
}
