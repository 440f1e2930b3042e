using System.Globalization;
using System.Runtime.InteropServices;

namespace KubeletPS.Core.Pods.Volumes;

/// <summary>One file of an API-object volume: its content and its mode (defaultMode or the item's mode).</summary>
public readonly record struct FileProjection(byte[] Data, int Mode);

/// <summary>
/// Kubelet's atomic writer (pkg/volume/util/atomic_writer.go) for configMap, secret, downwardAPI
/// and projected volumes. The real files live in a hidden timestamped directory
/// <c>..2006_01_02_15_04_05.RANDOM</c>; <c>..data</c> is a symlink to it, and each user-visible
/// top-level name is a symlink through <c>..data</c>. An update writes a new timestamped directory
/// and swaps <c>..data</c> with one rename(2), so a container never sees a half-written volume or a
/// mix of old and new files; the old directory is removed after the swap. Names starting with
/// <c>..</c> are the writer's own. Not safe for concurrent writes to one directory (the pod worker
/// serialises a pod's syncs).
/// </summary>
public sealed class AtomicVolumeWriter(string targetDirectory)
{
    public const string DataDirName = "..data";
    private const string NewDataDirName = "..data_tmp";
    private const int MaxFileNameLength = 255;
    private const int MaxPathLength = 4096;

    public string TargetDirectory => targetDirectory;

    [DllImport("libc", SetLastError = true, EntryPoint = "rename")]
    private static extern int NativeRename(string from, string to);

    /// <summary>rename(2) of the link itself (File.Move follows a link to a directory and refuses it).</summary>
    private static void Rename(string from, string to)
    {
        if (NativeRename(from, to) != 0)
            throw new IOException($"rename {from} to {to} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>
    /// Projects <paramref name="payload"/> (relative path → file) into the target directory, which
    /// must exist. Returns false when <c>..data</c> already holds exactly this payload (contents and
    /// modes): nothing is written then, so the periodic re-sync costs a read of each file.
    /// </summary>
    public bool Write(IReadOnlyDictionary<string, FileProjection> payload)
    {
        var clean = ValidatePayload(payload);
        var dataDir = Path.Combine(targetDirectory, DataDirName);
        var oldTsDir = new FileInfo(dataDir).LinkTarget;
        string? oldTsPath = null;
        HashSet<string> toRemove;
        if (!string.IsNullOrEmpty(oldTsDir))
        {
            oldTsPath = Path.Combine(targetDirectory, oldTsDir);
            toRemove = PathsToRemove(clean, oldTsPath);
            if (toRemove.Count == 0 && !ShouldWritePayload(clean, oldTsPath)) return false;
        }
        else
        {
            // First write: without ..data nothing here is a complete version (an older agent's
            // plain files, a timestamped directory left by a write cut short); it all goes.
            toRemove = [];
            foreach (var entry in new DirectoryInfo(targetDirectory).EnumerateFileSystemInfos())
            {
                if (entry is DirectoryInfo { LinkTarget: null } directory) directory.Delete(recursive: true);
                else entry.Delete();
            }
        }

        var tsDir = NewTimestampDirectory();
        try
        {
            WritePayloadToDirectory(clean, tsDir);
            CreateUserVisibleFiles(clean);
            var newDataDir = Path.Combine(targetDirectory, NewDataDirName);
            if (File.Exists(newDataDir) || new FileInfo(newDataDir).LinkTarget is not null) File.Delete(newDataDir);
            File.CreateSymbolicLink(newDataDir, Path.GetFileName(tsDir));
            // rename(2) replaces ..data in one step: readers see the old tree or the new one.
            Rename(newDataDir, dataDir);
        }
        catch
        {
            Directory.Delete(tsDir, recursive: true);
            throw;
        }

        foreach (var path in toRemove)
        {
            // Only the top-level links are the volume's own; nested names went with the old directory.
            if (path.Contains('/')) continue;
            var visible = Path.Combine(targetDirectory, path);
            if (new FileInfo(visible).LinkTarget is not null) File.Delete(visible);
        }
        if (oldTsPath is not null && Directory.Exists(oldTsPath)) Directory.Delete(oldTsPath, recursive: true);
        return true;
    }

    /// <summary>The payload with cleaned paths, or an <see cref="ArgumentException"/> naming the first bad path.</summary>
    public static Dictionary<string, FileProjection> ValidatePayload(IReadOnlyDictionary<string, FileProjection> payload)
    {
        var clean = new Dictionary<string, FileProjection>(StringComparer.Ordinal);
        foreach (var (path, file) in payload)
        {
            ValidatePath(path);
            clean[Clean(path)] = file;
        }
        return clean;
    }

    /// <summary>
    /// A payload path may not be empty or absolute, contain a <c>..</c> element, start with
    /// <c>..</c>, or exceed 255 characters per name or 4096 in all (kubelet's validatePath, with its messages).
    /// </summary>
    public static void ValidatePath(string path)
    {
        if (string.IsNullOrEmpty(path)) throw new ArgumentException($"invalid path: must not be empty: \"{path}\"");
        if (Path.IsPathRooted(path)) throw new ArgumentException($"invalid path: must be relative path: {path}");
        if (path.Length > MaxPathLength) throw new ArgumentException($"invalid path: must be less than or equal to {MaxPathLength} characters");
        var items = path.Split('/');
        foreach (var item in items)
        {
            if (item == "..") throw new ArgumentException($"invalid path: must not contain '..': {path}");
            if (item.Length > MaxFileNameLength) throw new ArgumentException($"invalid path: filenames must be less than or equal to {MaxFileNameLength} characters");
        }
        if (items[0].StartsWith("..", StringComparison.Ordinal) && items[0].Length > 2)
            throw new ArgumentException($"invalid path: must not start with '..': {path}");
    }

    /// <summary>filepath.Clean for a relative path without '..': no empty or '.' elements.</summary>
    private static string Clean(string path)
    {
        var parts = path.Split('/').Where(p => p.Length > 0 && p != ".").ToArray();
        return parts.Length == 0 ? "." : string.Join('/', parts);
    }

    /// <summary>
    /// Whether any file differs from what the current timestamped directory holds. Unlike kubelet,
    /// the mode counts too, so a changed defaultMode reaches the files without a content change.
    /// </summary>
    private static bool ShouldWritePayload(Dictionary<string, FileProjection> payload, string oldTsPath)
    {
        foreach (var (path, file) in payload)
        {
            var existing = new FileInfo(Path.Combine(oldTsPath, path));
            if (!existing.Exists || existing.LinkTarget is not null) return true;
            if (!OperatingSystem.IsWindows() && (int)existing.UnixFileMode != (file.Mode & 0xFFF)) return true;
            if (existing.Length != file.Data.Length || !File.ReadAllBytes(existing.FullName).AsSpan().SequenceEqual(file.Data)) return true;
        }
        return false;
    }

    /// <summary>Every path of the current version (files and directories) that the new payload neither holds nor needs as a parent.</summary>
    private static HashSet<string> PathsToRemove(Dictionary<string, FileProjection> payload, string oldTsPath)
    {
        var current = new HashSet<string>(StringComparer.Ordinal);
        if (Directory.Exists(oldTsPath))
        {
            foreach (var entry in new DirectoryInfo(oldTsPath).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
                current.Add(Path.GetRelativePath(oldTsPath, entry.FullName).Replace('\\', '/'));
        }
        foreach (var file in payload.Keys)
        {
            for (var sub = file; sub.Length > 0; sub = sub.Contains('/') ? sub[..sub.LastIndexOf('/')] : "") current.Remove(sub);
        }
        return current;
    }

    /// <summary>A new <c>..2006_01_02_15_04_05.RANDOM</c> directory with mode 0755, whatever the umask.</summary>
    private string NewTimestampDirectory()
    {
        var stamp = DateTime.UtcNow.ToString("..yyyy_MM_dd_HH_mm_ss.", CultureInfo.InvariantCulture);
        for (var attempt = 0; ; attempt++)
        {
            var path = Path.Combine(targetDirectory, stamp + Random.Shared.Next(0, int.MaxValue).ToString(CultureInfo.InvariantCulture));
            if (Directory.Exists(path) && attempt < 10) continue;
            Directory.CreateDirectory(path);
            PodVolumes.SetMode(path, 0x1ED);
            return path;
        }
    }

    private static void WritePayloadToDirectory(Dictionary<string, FileProjection> payload, string directory)
    {
        foreach (var (path, file) in payload)
        {
            var full = Path.Combine(directory, path);
            var parent = Path.GetDirectoryName(full)!;
            if (!Directory.Exists(parent))
            {
                Directory.CreateDirectory(parent);
                for (var d = parent; d.Length > directory.Length; d = Path.GetDirectoryName(d)!) PodVolumes.SetMode(d, 0x1ED);
            }
            File.WriteAllBytes(full, file.Data);
            // Set after writing: creation applies the umask.
            PodVolumes.SetMode(full, file.Mode & 0xFFF);
        }
    }

    /// <summary>Each top-level name as a relative link through <c>..data</c> (bar → ..data/bar, foo/baz → foo → ..data/foo).</summary>
    private void CreateUserVisibleFiles(Dictionary<string, FileProjection> payload)
    {
        foreach (var top in payload.Keys.Select(p => p.Split('/')[0]).Distinct(StringComparer.Ordinal))
        {
            var visible = Path.Combine(targetDirectory, top);
            var info = new FileInfo(visible);
            if (info.LinkTarget is not null) continue;
            if (info.Exists) info.Delete();
            else if (Directory.Exists(visible)) Directory.Delete(visible, recursive: true);
            File.CreateSymbolicLink(visible, Path.Combine(DataDirName, top));
        }
    }
}
