using k8s.Models;
using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Node;

/// <summary>
/// What the node half of the agent needs to know, taken from the effective KubeletConfiguration
/// and the command line (--hostname-override, --node-labels, --register-with-taints, --node-ip).
/// </summary>
public sealed record NodeAgentOptions
{
    public required string NodeName { get; init; }
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
    public IReadOnlyList<V1Taint> RegisterWithTaints { get; init; } = [];
    public string? NodeIp { get; init; }
    public string? ProviderId { get; init; }
    public int MaxPods { get; init; } = 110;
    public IReadOnlyDictionary<string, string> SystemReserved { get; init; } = new Dictionary<string, string>();
    public IReadOnlyDictionary<string, string> KubeReserved { get; init; } = new Dictionary<string, string>();
    public IReadOnlyDictionary<string, string> EvictionHard { get; init; } = DefaultEvictionHard;
    public string RootDirectory { get; init; } = KubeletConfigurationDefaults.DefaultRootDirectory;
    public string HostRoot { get; init; } = "/";
    public int KubeletPort { get; init; } = 10250;
    public int NodeLeaseDurationSeconds { get; init; } = 40;
    public TimeSpan NodeStatusUpdateFrequency { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan NodeStatusReportFrequency { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>kubelet's evictionHard default (pkg/kubelet/apis/config/v1beta1/defaults_linux.go).</summary>
    public static readonly IReadOnlyDictionary<string, string> DefaultEvictionHard = new Dictionary<string, string>
    {
        ["memory.available"] = "100Mi",
        ["nodefs.available"] = "10%",
        ["nodefs.inodesFree"] = "5%",
        ["imagefs.available"] = "15%",
        ["imagefs.inodesFree"] = "5%",
    };

    /// <summary>The kubelet version this agent reports (the Kubernetes API level it implements).</summary>
    public static string KubeletVersion { get; } =
        "v1.32.0+kubeletps." + (typeof(NodeAgentOptions).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");

    /// <summary>Parses --register-with-taints syntax: key[=value]:Effect.</summary>
    public static V1Taint ParseTaint(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0)
            throw new KubeletException($"Taint '{text}' must have the form key[=value]:Effect.", KubeletErrorKind.InvalidArgument, text);
        var effect = text[(colon + 1)..];
        if (effect is not ("NoSchedule" or "PreferNoSchedule" or "NoExecute"))
            throw new KubeletException($"Taint '{text}' has effect '{effect}'; expected NoSchedule, PreferNoSchedule or NoExecute.", KubeletErrorKind.InvalidArgument, text);
        var keyValue = text[..colon];
        var eq = keyValue.IndexOf('=');
        var key = eq < 0 ? keyValue : keyValue[..eq];
        var value = eq < 0 ? null : keyValue[(eq + 1)..];
        LabelRules.ValidateKey(key, text);
        if (value is not null) LabelRules.ValidateValue(value, text);
        return new V1Taint { Key = key, Value = value, Effect = effect };
    }
}
