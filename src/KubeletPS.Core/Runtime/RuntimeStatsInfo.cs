using System.Text.Json;
using Google.Protobuf.Collections;

namespace KubeletPS.Core.Runtime;

/// <summary>A cumulative CPU sample (CRI CpuUsage): nanoseconds since the Unix epoch and core-nanoseconds used.</summary>
public sealed record CpuUsageSample(long TimestampNanos, ulong? UsageCoreNanoSeconds, ulong? UsageNanoCores = null);

/// <summary>A memory sample (CRI MemoryUsage); absent fields are null.</summary>
public sealed record MemoryUsageSample(
    long TimestampNanos,
    ulong? WorkingSetBytes,
    ulong? AvailableBytes = null,
    ulong? UsageBytes = null,
    ulong? RssBytes = null,
    ulong? PageFaults = null,
    ulong? MajorPageFaults = null);

/// <summary>Bytes and inodes used on one file system (CRI FilesystemUsage): a writable layer or the image store.</summary>
public sealed record FilesystemUsageSample(long TimestampNanos, string Mountpoint, ulong? UsedBytes, ulong? InodesUsed);

/// <summary>Counters of one network interface (CRI NetworkInterfaceUsage, or a line of /proc/net/dev).</summary>
public sealed record NetworkInterfaceSample(string Name, ulong? RxBytes, ulong? RxErrors, ulong? TxBytes, ulong? TxErrors);

/// <summary>One container's stats as ListContainerStats returns them.</summary>
public sealed record ContainerStatsInfo(
    string Id,
    string Name,
    uint Attempt,
    IReadOnlyDictionary<string, string> Labels,
    CpuUsageSample? Cpu,
    MemoryUsageSample? Memory,
    FilesystemUsageSample? WritableLayer);

/// <summary>
/// What a verbose PodSandboxStatus tells about a sandbox beyond its status (containerd's
/// <c>info</c> JSON): the pid of its pause process (whose network namespace is the pod's), the
/// cgroup parent it was created with (the pod cgroup, empty without one) and its log directory.
/// </summary>
public sealed record SandboxRuntimeDetails(int? Pid, string CgroupParent, string LogDirectory, bool HostNetwork)
{
    /// <summary>Reads containerd's verbose <c>info</c> entry; null fields where the runtime does not say.</summary>
    public static SandboxRuntimeDetails FromVerboseInfo(IReadOnlyDictionary<string, string> info)
    {
        if (!info.TryGetValue("info", out var json) || string.IsNullOrWhiteSpace(json)) return new SandboxRuntimeDetails(null, "", "", false);
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            int? pid = root.TryGetProperty("pid", out var p) && p.TryGetInt32(out var value) && value > 0 ? value : null;
            var config = root.TryGetProperty("config", out var c) && c.ValueKind == JsonValueKind.Object ? c : default;
            string Text(JsonElement element, params string[] path)
            {
                foreach (var name in path)
                {
                    if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out element)) return "";
                }
                return element.ValueKind == JsonValueKind.String ? element.GetString() ?? "" : "";
            }
            var hostNetwork = config.ValueKind == JsonValueKind.Object
                && config.TryGetProperty("linux", out var linux) && linux.TryGetProperty("security_context", out var sc)
                && sc.TryGetProperty("namespace_options", out var ns) && ns.TryGetProperty("network", out var net)
                && net.ValueKind == JsonValueKind.Number && net.GetInt32() == 2;
            return new SandboxRuntimeDetails(pid, Text(config, "linux", "cgroup_parent"), Text(config, "log_directory"), hostNetwork);
        }
        catch (JsonException)
        {
            return new SandboxRuntimeDetails(null, "", "", false);
        }
    }
}

internal static class CriStatsMapping
{
    public static ContainerStatsInfo FromCri(Cri.ContainerStats s) => new(
        s.Attributes?.Id ?? "",
        s.Attributes?.Metadata?.Name ?? "",
        s.Attributes?.Metadata?.Attempt ?? 0,
        Map(s.Attributes?.Labels),
        FromCri(s.Cpu),
        FromCri(s.Memory),
        s.WritableLayer is { } w ? new FilesystemUsageSample(w.Timestamp, w.FsId?.Mountpoint ?? "", w.UsedBytes?.Value, w.InodesUsed?.Value) : null);

    private static CpuUsageSample? FromCri(Cri.CpuUsage? c) =>
        c is null ? null : new CpuUsageSample(c.Timestamp, c.UsageCoreNanoSeconds?.Value, c.UsageNanoCores?.Value);

    private static MemoryUsageSample? FromCri(Cri.MemoryUsage? m) => m is null ? null : new MemoryUsageSample(
        m.Timestamp, m.WorkingSetBytes?.Value, m.AvailableBytes?.Value, m.UsageBytes?.Value, m.RssBytes?.Value, m.PageFaults?.Value, m.MajorPageFaults?.Value);

    private static IReadOnlyDictionary<string, string> Map(MapField<string, string>? map)
        => map is null || map.Count == 0 ? PodSandboxSpec.EmptyMap : new Dictionary<string, string>(map);
}
