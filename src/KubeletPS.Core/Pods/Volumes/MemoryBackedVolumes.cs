using System.Collections.Concurrent;
using System.Globalization;
using k8s.Models;
using KubeletPS.Core.Pods.KubeRuntime;

namespace KubeletPS.Core.Pods.Volumes;

/// <summary>
/// The tmpfs behind emptyDir <c>medium: Memory</c>, secret volumes and projected volumes (kubelet
/// wraps both in a Memory emptyDir so their content never reaches the node's disk). Pages written
/// there are charged by the kernel to the memory cgroup of the process that writes them: a
/// container's writes count against its pod's memory limit. One mount per pod volume, made before
/// anything is written into the directory; the pod directory's removal unmounts it.
/// </summary>
public sealed class MemoryBackedVolumes
{
    private const uint TmpfsMagic = 0x01021994;

    // Directories known to be a tmpfs already (this run), so a sync does not read the mount table for each.
    private readonly ConcurrentDictionary<string, bool> _mounted = new(StringComparer.Ordinal);

    /// <summary>
    /// Kubelet's calculateEmptyDirMemorySize (SizeMemoryBackedVolumes): the node's allocatable
    /// memory, or less: the pod's memory limit when every container sets one, then the volume's
    /// sizeLimit when it is smaller still. Null when nothing bounds it (the kernel's default, half of RAM).
    /// </summary>
    public static long? SizeFor(V1Pod pod, ResourceQuantity? sizeLimit, IReadOnlyDictionary<string, ResourceQuantity> nodeAllocatable)
    {
        long? size = nodeAllocatable.TryGetValue("memory", out var allocatable) ? ToBytes(allocatable) : null;
        if (PodMemoryLimit(pod) is { } podLimit && podLimit > 0 && (size is null || podLimit <= size)) size = podLimit;
        if (sizeLimit is not null && ToBytes(sizeLimit) is var volumeLimit && volumeLimit > 0 && (size is null || volumeLimit <= size)) size = volumeLimit;
        return size;
    }

    /// <summary>
    /// The pod's memory limit as its cgroup gets it (ResourceConfigForPod): the app containers' and
    /// sidecars' limits summed, or the largest init container's if more; none unless every container sets one.
    /// </summary>
    public static long? PodMemoryLimit(V1Pod pod)
    {
        static long? Limit(V1Container c) => c.Resources?.Limits is { } limits && limits.TryGetValue("memory", out var q) ? ToBytes(q) : null;
        long sum = 0, sidecars = 0, init = 0;
        foreach (var c in pod.Spec.Containers ?? [])
        {
            if (Limit(c) is not { } l) return null;
            sum += l;
        }
        foreach (var c in pod.Spec.InitContainers ?? [])
        {
            if (Limit(c) is not { } l) return null;
            if (PodActionDecisions.IsSidecar(c)) sidecars += l;
            else init = Math.Max(init, l + sidecars);
        }
        return Math.Max(sum + sidecars, init);
    }

    /// <summary>
    /// Makes <paramref name="directory"/> a tmpfs (nosuid, nodev, mode 0755, of <paramref name="sizeBytes"/>
    /// when given) unless it is one already. What an older agent left there on disk is removed first,
    /// so no copy of a secret stays under the mount. A failure is a <see cref="ContainerConfigException"/>:
    /// the volume is refused rather than written to disk.
    /// </summary>
    public void EnsureTmpfs(string volume, string directory, long? sizeBytes)
    {
        if (_mounted.ContainsKey(directory)) return;
        Directory.CreateDirectory(directory);
        if (!IsTmpfsMountPoint(directory))
        {
            foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos())
            {
                if (entry is DirectoryInfo { LinkTarget: null } d) d.Delete(recursive: true);
                else entry.Delete();
            }
            var options = "mode=0755" + (sizeBytes is { } size ? $",size={size.ToString(CultureInfo.InvariantCulture)}" : "");
            try
            {
                HostMounts.Mount("tmpfs", directory, "tmpfs", HostMounts.MsNoSuid | HostMounts.MsNoDev, options);
            }
            catch (IOException e)
            {
                throw new ContainerConfigException($"volume \"{volume}\": cannot mount its tmpfs (medium Memory): {e.Message}");
            }
        }
        _mounted[directory] = true;
    }

    /// <summary>The pod is gone (its directory, with its mounts, is removed by the caller).</summary>
    public void ForgetPod(string podDirectory)
    {
        var prefix = podDirectory.TrimEnd('/') + "/";
        foreach (var key in _mounted.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal))) _mounted.TryRemove(key, out _);
    }

    /// <summary>Whether <paramref name="directory"/> is itself a mount point of a tmpfs.</summary>
    public static bool IsTmpfsMountPoint(string directory) =>
        HostMounts.IsMountPoint(directory) && FileSystemStats.Read(directory) is { Type: TmpfsMagic };

    private static long ToBytes(ResourceQuantity quantity) => (long)quantity.ToDecimal();
}
