using System.Globalization;
using static KubeletPS.Core.Pods.Volumes.VolumeNative;
using KubeletPS.Core.Pods.KubeRuntime;

namespace KubeletPS.Core.Pods.Volumes;

/// <summary>
/// A subPath that cannot be given to a container. The message is kubelet's, which tells the user
/// nothing of the host's filesystem; <see cref="Detail"/> says what was found, for the node's log.
/// </summary>
public sealed class SubPathException(string message, string detail) : IOException(message)
{
    public string Detail { get; } = detail;
}

/// <summary>
/// Safe subPath mounts (kubelet's pkg/volume/util/subpath, CVE-2017-1002101): the subPath is
/// opened from the volume's root one component at a time with openat(O_NOFOLLOW|O_PATH), so no
/// symlink is ever followed by the kernel; a symlink found on the way is resolved here and only
/// while it stays inside the volume (as kubelet's EvalSymlinks then PathWithinBase allow a
/// configMap's <c>..data</c> links). Missing directories are created with mkdirat under the open
/// parent (doSafeMakeDir). The opened file is then bind-mounted through <c>/proc/self/fd/N</c> onto
/// <c>{root}/pods/{uid}/volume-subpaths/{volume}/{container}/{index}</c>, and the mount is checked
/// to be that same inode before the runtime gets it. Each new container instance gets fresh mounts.
/// </summary>
public sealed class VolumeSubPaths(string rootDirectory)
{
    /// <summary>kubelet's containerSubPathDirectoryName.</summary>
    public const string DirectoryName = "volume-subpaths";

    /// <summary>Symlinks followed at most in one subPath, as the kernel's MAXSYMLINKS.</summary>
    private const int MaxSymlinks = 40;

    public string PodSubPathsDirectory(string uid) => Path.Combine(rootDirectory, "pods", uid, DirectoryName);

    /// <summary>kubelet's getSubpathBindTarget (container names are DNS labels, safe as directory names).</summary>
    public string BindTarget(string uid, string volumeName, string containerName, int mountIndex)
        => Path.Combine(PodSubPathsDirectory(uid), volumeName, containerName, mountIndex.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// The subPath of a volumeMount, with subPathExpr expanded from the container's environment
    /// (kubelet's ExpandContainerVolumeMounts), checked to be relative and without '..'; null when
    /// the mount has neither.
    /// </summary>
    public static string? SubPathOf(k8s.Models.V1VolumeMount mount, IReadOnlyDictionary<string, string> env)
    {
        var subPath = mount.SubPath;
        if (!string.IsNullOrEmpty(mount.SubPathExpr))
        {
            var missing = new SortedSet<string>(StringComparer.Ordinal);
            subPath = EnvExpansion.Expand(mount.SubPathExpr, name =>
            {
                var value = env.GetValueOrDefault(name);
                if (string.IsNullOrEmpty(value)) missing.Add(name);
                return value ?? "";
            });
            if (missing.Count > 0) throw new ContainerConfigException($"missing value for {string.Join(", ", missing)}");
        }
        if (string.IsNullOrEmpty(subPath)) return null;
        if (subPath.StartsWith('/')) throw new ContainerConfigException($"error SubPath `{subPath}` must not be an absolute path");
        if (subPath.Split('/').Contains("..")) throw new ContainerConfigException($"unable to provision SubPath `{subPath}`: must not contain '..'");
        return subPath;
    }

    /// <summary>
    /// Unmounts and removes the subPath mounts of a container's previous instance (every volume),
    /// so the instance about to be created gets mounts checked now, not when the last one started.
    /// </summary>
    public void CleanContainer(string uid, string containerName)
    {
        var subPaths = PodSubPathsDirectory(uid);
        if (!Directory.Exists(subPaths)) return;
        foreach (var volume in Directory.GetDirectories(subPaths))
        {
            var dir = Path.Combine(volume, containerName);
            if (Directory.Exists(dir)) HostMounts.RemoveDirectory(dir);
        }
    }

    /// <summary>
    /// doBindSubPath: opens <paramref name="subPath"/> inside the volume at <paramref name="volumePath"/>
    /// (creating missing directories), bind-mounts it onto the container's target and returns the
    /// target, the host path to give the runtime.
    /// </summary>
    /// <exception cref="SubPathException">The subPath leaves the volume, or it cannot be opened, created or mounted.</exception>
    public string Bind(string uid, string volumeName, string volumePath, string containerName, int mountIndex, string subPath)
    {
        var refused = $"failed to prepare subPath for volumeMount \"{volumeName}\" of container \"{containerName}\"";
        if (!OperatingSystem.IsLinux()) throw new SubPathException(refused, "subPath bind mounts need Linux");
        int fd;
        try
        {
            fd = OpenBeneath(volumePath, subPath, createMissing: true);
        }
        catch (SubPathWalkException e)
        {
            throw new SubPathException(e.WhileCreating ? $"failed to create subPath directory for volumeMount \"{volumeName}\" of container \"{containerName}\"" : refused,
                $"subPath {subPath} of volume {volumeName}: {e.Message}");
        }
        var target = BindTarget(uid, volumeName, containerName, mountIndex);
        try
        {
            var opened = Stat(fd);
            PrepareTarget(target, opened.IsDirectory);
            HostMounts.Mount(FdPath(fd), target, null, HostMounts.MsBind);
            // What the runtime will bind into the container must be the very file opened above.
            var mounted = LStat(target);
            if (!mounted.SameFile(opened))
            {
                HostMounts.Unmount(target);
                throw new IOException($"{target} is not the opened subPath {subPath} after mounting it");
            }
            return target;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SubPathException(refused, $"subPath {subPath} of volume {volumeName}: {e.Message}");
        }
        finally
        {
            Close(fd);
        }
    }

    /// <summary>prepareSubpathTarget: an empty directory or file (matching what is mounted) at the target, nothing mounted there.</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static void PrepareTarget(string target, bool directory)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(target)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        // Normally gone already (CleanContainer); the mount table is read only when something is left there.
        if (Path.Exists(target) && HostMounts.IsMountPoint(target)) HostMounts.Unmount(target);
        if (directory)
        {
            if (File.Exists(target)) File.Delete(target);
            Directory.CreateDirectory(target, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        }
        else
        {
            if (Directory.Exists(target)) Directory.Delete(target);
            using var _ = new FileStream(target, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead });
        }
    }

    /// <summary>
    /// Opens <paramref name="subPath"/> beneath <paramref name="volumePath"/> and returns its
    /// descriptor (O_PATH; the caller closes it). Every component is opened with O_NOFOLLOW from the
    /// descriptor of the one before, so a container swapping a directory for a symlink at any moment
    /// cannot redirect the walk. A symlink met on the way is read and its target walked in the same
    /// way, and refused as soon as it would leave the volume (an absolute target outside the
    /// volume's real path, or more '..' than levels walked). Missing directories are created when
    /// <paramref name="createMissing"/> is set, with the volume root's mode.
    /// </summary>
    /// <exception cref="SubPathWalkException">The path leaves the volume, loops, or a component cannot be opened or created.</exception>
    internal static int OpenBeneath(string volumePath, string subPath, bool createMissing)
    {
        var rootFd = OpenAt(AtFdCwd, volumePath, OPath | ODirectory, out var errno);
        if (rootFd < 0) throw new SubPathWalkException($"cannot open volume path {volumePath}: {Error("open", errno).Message}");
        var stack = new Stack<int>();
        stack.Push(rootFd);
        try
        {
            var root = PathOf(rootFd);
            var rootPrefix = root.EndsWith('/') ? root : root + "/";
            var mode = (uint)(Stat(rootFd).Mode & 0xFFF);
            var pending = new LinkedList<string>(Components(subPath));
            var walked = new List<string>();
            var links = 0;
            string Current(string name) => string.Join('/', walked.Append(name));
            while (pending.First is { } first)
            {
                var name = first.Value;
                pending.RemoveFirst();
                if (name == "..")
                {
                    if (stack.Count == 1) throw new SubPathWalkException($"path {Current(name)} is outside of the volume {volumePath}");
                    Close(stack.Pop());
                    walked.RemoveAt(walked.Count - 1);
                    continue;
                }
                var parent = stack.Peek();
                var fd = OpenAt(parent, name, OPath | ONoFollow, out errno);
                if (fd < 0 && errno == ENoEnt && createMissing)
                {
                    fd = MakeDirectory(parent, name, mode, Current(name));
                    if (fd < 0)
                    {
                        // Someone else made it meanwhile: open what is there (a bounded number of times, so a racing container cannot keep us here).
                        if (++links > MaxSymlinks) throw new SubPathWalkException($"{Current(name)} in volume {volumePath} keeps appearing and disappearing", whileCreating: true);
                        pending.AddFirst(name);
                        continue;
                    }
                }
                if (fd < 0) throw new SubPathWalkException($"cannot open {Current(name)} in volume {volumePath}: {Error("openat", errno).Message}");
                FileIdentity what;
                try { what = Stat(fd); }
                catch (IOException) { Close(fd); throw; }
                if (!what.IsSymlink)
                {
                    stack.Push(fd);
                    walked.Add(name);
                    continue;
                }
                Close(fd);
                if (++links > MaxSymlinks) throw new SubPathWalkException($"too many levels of symbolic links at {Current(name)} in volume {volumePath}");
                var target = ReadLinkAt(parent, name);
                if (target.StartsWith('/'))
                {
                    // An absolute link means a place on the host: allowed only inside this volume's real path.
                    if (target != root && !target.StartsWith(rootPrefix, StringComparison.Ordinal))
                        throw new SubPathWalkException($"unexpected symlink found {Current(name)} -> {target}: outside of the volume {root}");
                    while (stack.Count > 1) Close(stack.Pop());
                    walked.Clear();
                    target = target[Math.Min(target.Length, root.Length)..];
                }
                foreach (var component in Components(target).Reverse()) pending.AddFirst(component);
            }
            var result = stack.Pop();
            try
            {
                var real = PathOf(result);
                if (real != root && !real.StartsWith(rootPrefix, StringComparison.Ordinal))
                    throw new SubPathWalkException($"subpath {real} not within volume path {root}");
            }
            catch
            {
                Close(result);
                throw;
            }
            return result;
        }
        catch (IOException e) when (e is not SubPathWalkException)
        {
            throw new SubPathWalkException(e.Message);
        }
        finally
        {
            while (stack.Count > 0) Close(stack.Pop());
        }
    }

    /// <summary>doSafeMakeDir for one component: mkdirat under the open parent, reopened without following, then chmod past the umask. -1 if it appeared meanwhile.</summary>
    private static int MakeDirectory(int parent, string name, uint mode, string display)
    {
        var made = MkdirAt(parent, name, mode);
        if (made == EExist) return -1;
        if (made != 0) throw new SubPathWalkException($"cannot create directory {display}: {Error("mkdirat", made).Message}", whileCreating: true);
        var fd = OpenAt(parent, name, ORdOnly | ONoFollow | ODirectory, out var errno);
        if (fd < 0) throw new SubPathWalkException($"cannot open {display}: {Error("openat", errno).Message}", whileCreating: true);
        var chmod = Fchmod(fd, mode);
        if (chmod != 0)
        {
            Close(fd);
            throw new SubPathWalkException($"chmod {display} failed: {Error("fchmod", chmod).Message}", whileCreating: true);
        }
        return fd;
    }

    private static IEnumerable<string> Components(string path) => path.Split('/').Where(c => c.Length > 0 && c != ".");
}

/// <summary>Why a subPath could not be opened inside its volume (kept for the log; the user sees kubelet's message).</summary>
internal sealed class SubPathWalkException(string message, bool whileCreating = false) : IOException(message)
{
    public bool WhileCreating { get; } = whileCreating;
}
