
using KubeletPS.Core.Runtime.Logs;

namespace KubeletPS.Core.Pods.Logs;

/// <summary>
/// What rotating one container's log does to the files already rotated (kubelet's rotateLog before
/// rotateLatestLog): remove the unused ones (cleanupUnusedLogs), then the oldest beyond
/// MaxFiles − 2 (removeExcessLogs: the current file and the one about to be rotated make up the
/// rest), then compress what remains uncompressed (compressLog). Decided from names alone.
/// </summary>
public sealed record ContainerLogRotationPlan(IReadOnlyList<string> Remove, IReadOnlyList<string> Compress)
{
    /// <summary>The plan for the rotated files <paramref name="rotated"/> (full paths, <c>{log}.*</c>) under <paramref name="maxFiles"/>.</summary>
    public static ContainerLogRotationPlan Decide(IReadOnlyCollection<string> rotated, int maxFiles)
    {
        ArgumentNullException.ThrowIfNull(rotated);
        var (inUse, unused) = ContainerLogFiles.FilterUnused(rotated);
        var sorted = inUse.Order(StringComparer.Ordinal).ToList();
        // Oldest first, so that a reader still on a newer file (kubectl logs -f) is not cut off.
        var excess = Math.Max(0, sorted.Count - Math.Max(0, maxFiles - 2));
        var remove = unused.Order(StringComparer.Ordinal).Concat(sorted.Take(excess)).ToList();
        var compress = sorted.Skip(excess).Where(l => !l.EndsWith(ContainerLogFiles.CompressSuffix, StringComparison.Ordinal)).ToList();
        return new ContainerLogRotationPlan(remove, compress);
    }
}
