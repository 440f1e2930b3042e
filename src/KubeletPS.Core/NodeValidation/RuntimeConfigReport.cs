using System.Text.Json;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.NodeValidation;

/// <summary>
/// What the runtime says about its own configuration: its cgroup driver and sandbox (pause)
/// image, and where that came from. <see cref="Error"/> is set when the runtime did not answer.
/// </summary>
public sealed record RuntimeConfigReport(string? CgroupDriver, string? SandboxImage, string Source, string? Error)
{
    public static RuntimeConfigReport Unreachable(string error) => new(null, null, "", error);

    /// <summary>
    /// The cgroup driver from RuntimeConfig when the runtime implements it (kubelet's own source
    /// since 1.28), else from the runtime's verbose Status info — containerd's CRI configuration,
    /// where the default runtime's SystemdCgroup option decides (unset is cgroupfs, containerd's
    /// default); the sandbox image from the same info (containerd's sandbox_image, what crictl info shows).
    /// </summary>
    public static async Task<RuntimeConfigReport> ReadAsync(IRuntimeService runtime, CancellationToken cancellationToken)
    {
        string? driver;
        IReadOnlyDictionary<string, string> info;
        try
        {
            driver = await runtime.RuntimeCgroupDriverAsync(cancellationToken).ConfigureAwait(false);
            info = await runtime.StatusInfoAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (KubeletRuntimeException e)
        {
            return Unreachable(e.Message);
        }
        var (infoDriver, sandboxImage, infoSource) = FromStatusInfo(info);
        return driver is not null
            ? new RuntimeConfigReport(driver, sandboxImage, "the CRI RuntimeConfig call", null)
            : new RuntimeConfigReport(infoDriver, sandboxImage, infoSource, null);
    }

    /// <summary>containerd's verbose Status info: the "config" entry, its CRI plugin configuration as JSON.</summary>
    public static (string? CgroupDriver, string? SandboxImage, string Source) FromStatusInfo(IReadOnlyDictionary<string, string> info)
    {
        if (!info.TryGetValue("config", out var json))
        {
            return (null, null, "the runtime's Status info has no \"config\" entry");
        }
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            var sandboxImage = root.TryGetProperty("sandboxImage", out var image) && image.ValueKind == JsonValueKind.String ? image.GetString() : null;
            if (!root.TryGetProperty("containerd", out var containerd)
                || !containerd.TryGetProperty("runtimes", out var runtimes) || runtimes.ValueKind != JsonValueKind.Object)
            {
                return (null, sandboxImage, "the runtime's Status info lists no runtimes");
            }
            var name = containerd.TryGetProperty("defaultRuntimeName", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : "runc";
            if (!runtimes.TryGetProperty(name, out var runtimeEntry))
            {
                return (null, sandboxImage, $"the runtime's Status info has no entry for its default runtime '{name}'");
            }
            var systemd = runtimeEntry.TryGetProperty("options", out var options) && options.ValueKind == JsonValueKind.Object
                && options.TryGetProperty("SystemdCgroup", out var flag) && flag.ValueKind == JsonValueKind.True;
            var source = $"containerd's config: runtime '{name}' SystemdCgroup = {(systemd ? "true" : "false")}";
            return (systemd ? "systemd" : "cgroupfs", sandboxImage, source);
        }
        catch (JsonException e)
        {
            return (null, null, $"the runtime's Status info \"config\" is not JSON: {e.Message}");
        }
    }
}
