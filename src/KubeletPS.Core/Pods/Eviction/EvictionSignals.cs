namespace KubeletPS.Core.Pods.Eviction;

/// <summary>
/// Kubelet's eviction signals (pkg/kubelet/eviction/api/types.go) with the node condition each one
/// drives and the resource it reclaims (helpers.go signalToNodeCondition, signalToResource).
/// </summary>
public static class EvictionSignals
{
    public const string MemoryAvailable = "memory.available";
    public const string AllocatableMemoryAvailable = "allocatableMemory.available";
    public const string NodeFsAvailable = "nodefs.available";
    public const string NodeFsInodesFree = "nodefs.inodesFree";
    public const string ImageFsAvailable = "imagefs.available";
    public const string ImageFsInodesFree = "imagefs.inodesFree";
    public const string PidAvailable = "pid.available";

    /// <summary>Kubelet's signals of the local storage limits (eviction_manager.go), the eviction_signal of their evictions.</summary>
    public const string EphemeralContainerFsLimit = "ephemeralcontainerfs.limit";
    public const string EphemeralPodFsLimit = "ephemeralpodfs.limit";
    public const string EmptyDirFsLimit = "emptydirfs.limit";

    public const string MemoryPressure = "MemoryPressure";
    public const string DiskPressure = "DiskPressure";
    public const string PidPressure = "PIDPressure";

    /// <summary>Kubelet's internal resource names for inodes and process IDs (resourceInodes, resourcePids).</summary>
    public const string ResourceInodes = "inodes";
    public const string ResourcePids = "pids";

    private static readonly Dictionary<string, (string Condition, string Resource)> Signals = new(StringComparer.Ordinal)
    {
        [MemoryAvailable] = (MemoryPressure, "memory"),
        [AllocatableMemoryAvailable] = (MemoryPressure, "memory"),
        [NodeFsAvailable] = (DiskPressure, "ephemeral-storage"),
        [NodeFsInodesFree] = (DiskPressure, ResourceInodes),
        [ImageFsAvailable] = (DiskPressure, "ephemeral-storage"),
        [ImageFsInodesFree] = (DiskPressure, ResourceInodes),
        [PidAvailable] = (PidPressure, ResourcePids),
    };

    /// <summary>Whether kubelet knows the signal (validSignal).</summary>
    public static bool IsValid(string signal) => Signals.ContainsKey(signal);

    /// <summary>The node condition a met threshold of the signal sets.</summary>
    public static string NodeCondition(string signal) => Signals[signal].Condition;

    /// <summary>The resource that evicting for the signal reclaims: memory, ephemeral-storage, inodes or pids.</summary>
    public static string Resource(string signal) => Signals[signal].Resource;

    /// <summary>Whether the signal is one of memory (memory first, in kubelet's byEvictionPriority).</summary>
    public static bool IsMemory(string signal) => signal is MemoryAvailable or AllocatableMemoryAvailable;

    /// <summary>The node conditions the eviction manager owns, in the order a node reports them.</summary>
    public static IReadOnlyList<string> Conditions { get; } = [MemoryPressure, DiskPressure, PidPressure];
}
