using System.Globalization;
using k8s.Models;

namespace KubeletPS.Core.Node;

/// <summary>
/// Computes the Node kubelet would register and the status it would report: labels, taints,
/// addresses, capacity and allocatable (capacity minus system/kube reserved and the hard
/// eviction thresholds, as kubelet's node allocatable), node info and conditions with kubelet's
/// reasons and transition rules (a transition time moves only when a status changes).
/// </summary>
public sealed class NodeStatusBuilder(NodeAgentOptions options)
{
    public NodeAgentOptions Options { get; } = options;

    /// <summary>
    /// The eviction manager, which owns the pressure conditions. Without one (a heartbeat that runs no pods, so
    /// nothing is evicted) they are computed from evictionHard and the machine's figures of the moment.
    /// </summary>
    public INodePressure? Pressure { get; init; }

    /// <summary>The Node object kubelet creates on first registration (initialNode).</summary>
    public V1Node BuildInitialNode(MachineInfo machine, RuntimeHealth runtime, DateTime now)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in Options.Labels) labels[key] = value;
        foreach (var (key, value) in DefaultLabels(machine)) labels[key] = value;
        return new V1Node
        {
            ApiVersion = "v1",
            Kind = "Node",
            Metadata = new V1ObjectMeta
            {
                Name = Options.NodeName,
                Labels = labels,
                Annotations = new Dictionary<string, string> { ["volumes.kubernetes.io/controller-managed-attach-detach"] = "true" },
            },
            Spec = new V1NodeSpec
            {
                Taints = Options.RegisterWithTaints.Count > 0 ? Options.RegisterWithTaints.ToList() : null,
                ProviderID = Options.ProviderId,
            },
            Status = BuildStatus(machine, runtime, previous: null, now),
        };
    }

    public IReadOnlyDictionary<string, string> DefaultLabels(MachineInfo machine) => new Dictionary<string, string>
    {
        [LabelRules.Hostname] = Options.NodeName,
        [LabelRules.Os] = "linux",
        [LabelRules.Arch] = machine.Architecture,
        [LabelRules.BetaOs] = "linux",
        [LabelRules.BetaArch] = machine.Architecture,
    };

    public V1NodeStatus BuildStatus(MachineInfo machine, RuntimeHealth runtime, V1NodeStatus? previous, DateTime now)
    {
        var capacity = Capacity(machine);
        return new V1NodeStatus
        {
            Capacity = capacity,
            Allocatable = Allocatable(machine, capacity),
            Addresses = Addresses(machine),
            DaemonEndpoints = new V1NodeDaemonEndpoints { KubeletEndpoint = new V1DaemonEndpoint { Port = Options.KubeletPort } },
            NodeInfo = new V1NodeSystemInfo
            {
                MachineID = machine.MachineId,
                SystemUUID = machine.SystemUuid,
                BootID = machine.BootId,
                KernelVersion = machine.KernelVersion,
                OsImage = machine.OsImage,
                ContainerRuntimeVersion = runtime.ContainerRuntimeVersion ?? previous?.NodeInfo?.ContainerRuntimeVersion ?? "",
                KubeletVersion = NodeAgentOptions.KubeletVersion,
                KubeProxyVersion = "",
                OperatingSystem = "linux",
                Architecture = machine.Architecture,
            },
            Conditions = Conditions(machine, runtime, previous?.Conditions, now),
            Images = runtime.Images is { } images ? NodeImages(images) : previous?.Images,
        };
    }

    /// <summary>kubelet's nodeStatusMaxImages (50): the largest images first, each with its names.</summary>
    public const int MaxImages = 50;

    private static List<V1ContainerImage> NodeImages(IReadOnlyList<(IReadOnlyList<string> Names, long SizeBytes)> images) =>
        images.Where(i => i.Names.Count > 0).OrderByDescending(i => i.SizeBytes).Take(MaxImages)
            .Select(i => new V1ContainerImage { Names = i.Names.ToList(), SizeBytes = i.SizeBytes }).ToList();

    public Dictionary<string, ResourceQuantity> Capacity(MachineInfo machine)
    {
        var capacity = new Dictionary<string, ResourceQuantity>
        {
            ["cpu"] = new(machine.CpuCount.ToString(CultureInfo.InvariantCulture)),
            ["memory"] = Kibibytes(machine.MemoryCapacityBytes),
            ["ephemeral-storage"] = Kibibytes(machine.FilesystemCapacityBytes),
            ["pods"] = new(Options.MaxPods.ToString(CultureInfo.InvariantCulture)),
        };
        foreach (var (pageSize, pages) in machine.HugePages)
        {
            capacity["hugepages-" + HugePageSizeName(pageSize)] = Bytes(pageSize * pages);
        }
        return capacity;
    }

    public Dictionary<string, ResourceQuantity> Allocatable(MachineInfo machine, IReadOnlyDictionary<string, ResourceQuantity> capacity)
    {
        var allocatable = new Dictionary<string, ResourceQuantity>();
        foreach (var (name, quantity) in capacity)
        {
            var value = quantity.ToDecimal() - Reserved(name, quantity.ToDecimal());
            if (name == "memory")
            {
                // Pre-allocated huge pages are not available to ordinary pages (kubelet does the same).
                value -= machine.HugePages.Sum(p => (decimal)p.Key * p.Value);
            }
            value = Math.Max(0, value);
            allocatable[name] = name switch
            {
                "cpu" => Cpu(value),
                "memory" => value % 1024 == 0 ? Kibibytes((long)value) : Bytes((long)value),
                _ => Bytes((long)value),
            };
        }
        return allocatable;
    }

    private decimal Reserved(string resource, decimal capacity)
    {
        var total = Cm.NodeReservations.Reserved(resource, Options.SystemReserved, Options.KubeReserved);
        var signal = resource switch { "memory" => "memory.available", "ephemeral-storage" => "nodefs.available", _ => null };
        if (signal is not null && Options.EvictionHard.TryGetValue(signal, out var threshold))
        {
            total += ThresholdValue(threshold, capacity);
        }
        return total;
    }

    /// <summary>An eviction threshold ("100Mi" or "10%") as an amount of <paramref name="capacity"/>.</summary>
    public static decimal ThresholdValue(string threshold, decimal capacity)
    {
        threshold = threshold.Trim();
        if (threshold.EndsWith('%'))
        {
            return capacity * decimal.Parse(threshold[..^1], CultureInfo.InvariantCulture) / 100m;
        }
        return Cm.QuantityValues.Decimal(Api.QuantityExponents.Parse(threshold));
    }

    private List<V1NodeAddress> Addresses(MachineInfo machine)
    {
        var addresses = new List<V1NodeAddress>();
        var ip = Options.NodeIp;
        if (!string.IsNullOrEmpty(ip)) addresses.Add(new V1NodeAddress { Type = "InternalIP", Address = ip });
        addresses.Add(new V1NodeAddress { Type = "Hostname", Address = machine.Hostname });
        return addresses;
    }

    public List<V1NodeCondition> Conditions(MachineInfo machine, RuntimeHealth runtime, IList<V1NodeCondition>? previous, DateTime now)
    {
        var memoryThreshold = Options.EvictionHard.TryGetValue("memory.available", out var m) ? ThresholdValue(m, machine.MemoryCapacityBytes) : 0;
        var diskThreshold = Options.EvictionHard.TryGetValue("nodefs.available", out var d) ? ThresholdValue(d, machine.FilesystemCapacityBytes) : 0;
        var inodeThreshold = Options.EvictionHard.TryGetValue("nodefs.inodesFree", out var i) && machine.FilesystemInodes > 0
            ? ThresholdValue(i, machine.FilesystemInodes) : 0;
        var pidThreshold = Options.EvictionHard.TryGetValue("pid.available", out var p) ? ThresholdValue(p, machine.PidMax) : 0;

        var memoryPressure = Pressure?.HasCondition("MemoryPressure") ?? machine.MemoryAvailableBytes < memoryThreshold;
        var diskPressure = Pressure?.HasCondition("DiskPressure") ?? (machine.FilesystemAvailableBytes < diskThreshold
            || (machine.FilesystemInodes > 0 && machine.FilesystemInodesFree < inodeThreshold));
        var pidPressure = Pressure?.HasCondition("PIDPressure") ?? machine.PidMax - machine.RunningProcesses < pidThreshold;

        var notReadyReasons = new List<string>();
        if (!runtime.Reachable)
            notReadyReasons.Add("container runtime is down" + (runtime.Message is null ? "" : ": " + runtime.Message));
        else if (!runtime.RuntimeReady)
            notReadyReasons.Add("container runtime not ready" + (runtime.Message is null ? "" : ": " + runtime.Message));
        else if (!runtime.NetworkReady)
            notReadyReasons.Add("container runtime network not ready" + (runtime.Message is null ? "" : ": " + runtime.Message));
        notReadyReasons.AddRange(runtime.HealthCheckErrors);

        return
        [
            Condition(previous, now, "MemoryPressure", memoryPressure,
                memoryPressure ? "KubeletHasInsufficientMemory" : "KubeletHasSufficientMemory",
                memoryPressure ? "kubelet has insufficient memory available" : "kubelet has sufficient memory available"),
            Condition(previous, now, "DiskPressure", diskPressure,
                diskPressure ? "KubeletHasDiskPressure" : "KubeletHasNoDiskPressure",
                diskPressure ? "kubelet has disk pressure" : "kubelet has no disk pressure"),
            Condition(previous, now, "PIDPressure", pidPressure,
                pidPressure ? "KubeletHasInsufficientPID" : "KubeletHasSufficientPID",
                pidPressure ? "kubelet has insufficient PID available" : "kubelet has sufficient PID available"),
            Condition(previous, now, "Ready", notReadyReasons.Count == 0,
                notReadyReasons.Count == 0 ? "KubeletReady" : "KubeletNotReady",
                notReadyReasons.Count == 0 ? "kubelet is posting ready status" : string.Join(", ", notReadyReasons)),
        ];
    }

    private static V1NodeCondition Condition(IList<V1NodeCondition>? previous, DateTime now, string type, bool status, string reason, string message)
    {
        var statusText = status ? "True" : "False";
        var old = previous?.FirstOrDefault(c => c.Type == type);
        var transition = old is not null && old.Status == statusText && old.LastTransitionTime is not null ? old.LastTransitionTime : now;
        return new V1NodeCondition
        {
            Type = type,
            Status = statusText,
            Reason = reason,
            Message = message,
            LastHeartbeatTime = now,
            LastTransitionTime = transition,
        };
    }

    /// <summary>
    /// Whether a new status differs from the reported one in anything but heartbeat times: the
    /// test kubelet uses to decide between patching now and waiting for nodeStatusReportFrequency.
    /// </summary>
    public static bool StatusChanged(V1NodeStatus? reported, V1NodeStatus current)
    {
        if (reported is null) return true;
        string Key(V1NodeStatus s) => k8s.KubernetesJson.Serialize(new V1NodeStatus
        {
            Capacity = s.Capacity?.OrderBy(p => p.Key).ToDictionary(p => p.Key, p => p.Value),
            Allocatable = s.Allocatable?.OrderBy(p => p.Key).ToDictionary(p => p.Key, p => p.Value),
            Addresses = s.Addresses,
            NodeInfo = s.NodeInfo,
            DaemonEndpoints = s.DaemonEndpoints,
            Conditions = s.Conditions?.OrderBy(c => c.Type).Select(c => new V1NodeCondition
            {
                Type = c.Type, Status = c.Status, Reason = c.Reason, Message = c.Message,
            }).ToList(),
            Images = s.Images,
        });
        return Key(reported) != Key(current);
    }

    private static string HugePageSizeName(long bytes) =>
        bytes % (1L << 30) == 0 ? $"{bytes >> 30}Gi" : bytes % (1L << 20) == 0 ? $"{bytes >> 20}Mi" : $"{bytes >> 10}Ki";

    private static ResourceQuantity Kibibytes(long bytes) =>
        new((bytes / 1024).ToString(CultureInfo.InvariantCulture) + "Ki");

    private static ResourceQuantity Bytes(long bytes) => new(bytes.ToString(CultureInfo.InvariantCulture));

    private static ResourceQuantity Cpu(decimal cores) =>
        cores == decimal.Truncate(cores)
            ? new ResourceQuantity(((long)cores).ToString(CultureInfo.InvariantCulture))
            : new ResourceQuantity(((long)(cores * 1000)).ToString(CultureInfo.InvariantCulture) + "m");
}
