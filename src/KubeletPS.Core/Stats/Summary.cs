using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace KubeletPS.Core.Stats;

// The kubelet's Summary API (k8s.io/kubelet/pkg/apis/stats/v1alpha1), field for field and with the
// same JSON names, so /stats/summary reads as kubelet's does for metrics-server, kubectl and scripts.

/// <summary>A top-level container for the node's stats and its pods' stats.</summary>
public sealed class Summary
{
    [JsonPropertyName("node")] public NodeStats Node { get; set; } = new();
    [JsonPropertyName("pods")] public List<PodStats> Pods { get; set; } = [];

    /// <summary>The options /stats/summary writes with: camelCase names as declared, absent values left out, times as metav1.Time.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new MetaTimeConverter() },
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static Summary FromJson(string json) => JsonSerializer.Deserialize<Summary>(json, JsonOptions)
        ?? throw new JsonException("the summary is null");
}

public sealed class NodeStats
{
    [JsonPropertyName("nodeName")] public string NodeName { get; set; } = "";
    [JsonPropertyName("systemContainers")] public List<ContainerStats>? SystemContainers { get; set; }
    [JsonPropertyName("startTime")] public DateTimeOffset StartTime { get; set; }
    [JsonPropertyName("cpu")] public CpuStats? Cpu { get; set; }
    [JsonPropertyName("memory")] public MemoryStats? Memory { get; set; }
    [JsonPropertyName("network")] public NetworkStats? Network { get; set; }
    [JsonPropertyName("fs")] public FsStats? Fs { get; set; }
    [JsonPropertyName("runtime")] public RuntimeStats? Runtime { get; set; }
    [JsonPropertyName("rlimit")] public RlimitStats? Rlimit { get; set; }
}

public sealed class RlimitStats
{
    [JsonPropertyName("time")] public DateTimeOffset Time { get; set; }
    [JsonPropertyName("maxpid")] public long? MaxPid { get; set; }
    [JsonPropertyName("curproc")] public long? NumOfRunningProcesses { get; set; }
}

public sealed class RuntimeStats
{
    [JsonPropertyName("imageFs")] public FsStats? ImageFs { get; set; }
    [JsonPropertyName("containerFs")] public FsStats? ContainerFs { get; set; }
}

public sealed class ProcessStats
{
    [JsonPropertyName("process_count")] public ulong? ProcessCount { get; set; }
}

public sealed class PodStats
{
    [JsonPropertyName("podRef")] public PodReference PodRef { get; set; } = new();
    [JsonPropertyName("startTime")] public DateTimeOffset StartTime { get; set; }
    [JsonPropertyName("containers")] public List<ContainerStats> Containers { get; set; } = [];
    [JsonPropertyName("cpu")] public CpuStats? Cpu { get; set; }
    [JsonPropertyName("memory")] public MemoryStats? Memory { get; set; }
    [JsonPropertyName("network")] public NetworkStats? Network { get; set; }
    [JsonPropertyName("volume")] public List<VolumeStats>? VolumeStats { get; set; }
    [JsonPropertyName("ephemeral-storage")] public FsStats? EphemeralStorage { get; set; }
    [JsonPropertyName("process_stats")] public ProcessStats? ProcessStats { get; set; }
}

public sealed class ContainerStats
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("startTime")] public DateTimeOffset StartTime { get; set; }
    [JsonPropertyName("cpu")] public CpuStats? Cpu { get; set; }
    [JsonPropertyName("memory")] public MemoryStats? Memory { get; set; }
    [JsonPropertyName("rootfs")] public FsStats? Rootfs { get; set; }
    [JsonPropertyName("logs")] public FsStats? Logs { get; set; }
}

public sealed class PodReference
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("namespace")] public string Namespace { get; set; } = "";
    [JsonPropertyName("uid")] public string Uid { get; set; } = "";
}

public class InterfaceStats
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("rxBytes")] public ulong? RxBytes { get; set; }
    [JsonPropertyName("rxErrors")] public ulong? RxErrors { get; set; }
    [JsonPropertyName("txBytes")] public ulong? TxBytes { get; set; }
    [JsonPropertyName("txErrors")] public ulong? TxErrors { get; set; }
}

/// <summary>The default interface's counters inline (kubelet's embedded InterfaceStats) and every interface.</summary>
public sealed class NetworkStats : InterfaceStats
{
    [JsonPropertyName("time")] public DateTimeOffset Time { get; set; }
    [JsonPropertyName("interfaces")] public List<InterfaceStats>? Interfaces { get; set; }
}

public sealed class CpuStats
{
    [JsonPropertyName("time")] public DateTimeOffset Time { get; set; }
    [JsonPropertyName("usageNanoCores")] public ulong? UsageNanoCores { get; set; }
    [JsonPropertyName("usageCoreNanoSeconds")] public ulong? UsageCoreNanoSeconds { get; set; }
}

public sealed class MemoryStats
{
    [JsonPropertyName("time")] public DateTimeOffset Time { get; set; }
    [JsonPropertyName("availableBytes")] public ulong? AvailableBytes { get; set; }
    [JsonPropertyName("usageBytes")] public ulong? UsageBytes { get; set; }
    [JsonPropertyName("workingSetBytes")] public ulong? WorkingSetBytes { get; set; }
    [JsonPropertyName("rssBytes")] public ulong? RssBytes { get; set; }
    [JsonPropertyName("pageFaults")] public ulong? PageFaults { get; set; }
    [JsonPropertyName("majorPageFaults")] public ulong? MajorPageFaults { get; set; }
}

public class FsStats
{
    [JsonPropertyName("time")] public DateTimeOffset Time { get; set; }
    [JsonPropertyName("availableBytes")] public ulong? AvailableBytes { get; set; }
    [JsonPropertyName("capacityBytes")] public ulong? CapacityBytes { get; set; }
    [JsonPropertyName("usedBytes")] public ulong? UsedBytes { get; set; }
    [JsonPropertyName("inodesFree")] public ulong? InodesFree { get; set; }
    [JsonPropertyName("inodes")] public ulong? Inodes { get; set; }
    [JsonPropertyName("inodesUsed")] public ulong? InodesUsed { get; set; }
}

/// <summary>A volume's usage: the FsStats inline (as kubelet embeds them), its name, and the claim behind it.</summary>
public sealed class VolumeStats : FsStats
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("pvcRef")] public PvcReference? PvcRef { get; set; }
}

public sealed class PvcReference
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("namespace")] public string Namespace { get; set; } = "";
}

/// <summary>metav1.Time on the wire: RFC 3339 in UTC to the second.</summary>
internal sealed class MetaTimeConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? default
            : DateTimeOffset.Parse(reader.GetString() ?? "", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
}
