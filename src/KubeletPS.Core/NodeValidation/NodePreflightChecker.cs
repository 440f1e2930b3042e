using System.Globalization;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.Core.NodeValidation;

/// <summary>
/// kubeadm join's node checks (cmd/kubeadm/app/preflight: IsPrivilegedUser, Swap, the
/// FileContent checks of bridge-nf-call-iptables and ip_forward, Port-10250, FileExisting-*
/// for the binaries kubelet and kube-proxy run, the CRI), plus the kernel modules the runtime
/// needs and the cgroup driver kubelet checks at start. Each failure says what to run.
/// </summary>
public static class NodePreflightChecker
{
    public const string IsPrivilegedUser = "IsPrivilegedUser";
    public const string Swap = "Swap";
    public const string BridgeNetfilter = "BridgeNetfilter";
    public const string BridgeNfCallIptables = "BridgeNfCallIptables";
    public const string IPv4Forward = "IPv4Forward";
    public const string KubeletPort = "KubeletPort";
    public const string RequiredBinaries = "RequiredBinaries";
    public const string OptionalBinaries = "OptionalBinaries";
    public const string ContainerRuntime = "ContainerRuntime";
    public const string KernelModules = "KernelModules";
    public const string CgroupDriver = "CgroupDriver";

    /// <summary>kubeadm's mandatory InPathChecks (conntrack is no longer one from Kubernetes 1.32).</summary>
    public static readonly IReadOnlyList<string> MandatoryBinaries = ["ip", "iptables", "mount", "nsenter"];

    /// <summary>kubeadm's warning-level InPathChecks.</summary>
    public static readonly IReadOnlyList<string> WarningBinaries = ["ebtables", "ethtool", "socat", "tc", "touch"];

    private const string BridgeNfCallIptablesPath = "sys/net/bridge/bridge-nf-call-iptables";
    private const string IPv4ForwardPath = "sys/net/ipv4/ip_forward";

    /// <summary>Runs every check; <paramref name="runtime"/> is what the runtime said about itself (null: it did not answer).</summary>
    public static IReadOnlyList<NodeCheckResult> Check(NodeHost host, KubeletConfiguration configuration, string? configFile,
        RuntimeConfigReport runtime)
    {
        var config = configFile ?? "config.yaml";
        return
        [
            CheckPrivilegedUser(host),
            CheckSwap(host, configuration, config),
            CheckBridgeNetfilter(host),
            CheckSysctl(host, BridgeNfCallIptables, BridgeNfCallIptablesPath, "net.bridge.bridge-nf-call-iptables"),
            CheckSysctl(host, IPv4Forward, IPv4ForwardPath, "net.ipv4.ip_forward"),
            CheckPort(host, configuration.Port, config),
            CheckBinaries(host, RequiredBinaries, MandatoryBinaries, mandatory: true),
            CheckBinaries(host, OptionalBinaries, WarningBinaries, mandatory: false),
            CheckContainerRuntime(host, configuration.ContainerRuntimeEndpoint),
            CheckKernelModules(host),
            CheckCgroupDriver(configuration, config, runtime),
        ];
    }

    private static NodeCheckResult CheckPrivilegedUser(NodeHost host)
    {
        // The effective uid: the second field of /proc/self/status's Uid line.
        var status = NodeHost.ReadSmallFileAll(host.Proc("self/status")) ?? "";
        var uidLine = status.Split('\n').FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        var fields = uidLine?.Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
        if (fields is not { Length: >= 3 })
        {
            return NodeCheckResult.Fail(IsPrivilegedUser, $"cannot read the effective user id from {host.Proc("self/status")}.");
        }
        return fields[2] == "0"
            ? NodeCheckResult.Pass(IsPrivilegedUser, "running as root (uid 0).")
            : NodeCheckResult.Fail(IsPrivilegedUser, $"user is not running as root (effective uid {fields[2]}): run the agent and Test-KubeletNode as root (sudo).");
    }

    private static NodeCheckResult CheckSwap(NodeHost host, KubeletConfiguration configuration, string config)
    {
        var swaps = NodeHost.ReadSmallFileAll(host.Proc("swaps"));
        if (swaps is null)
        {
            return NodeCheckResult.Pass(Swap, $"{host.Proc("swaps")} is not available, so no swap is in use.");
        }
        var devices = swaps.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(l => l.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[0]).ToList();
        if (devices.Count == 0)
        {
            return NodeCheckResult.Pass(Swap, "swap is off.");
        }
        var on = string.Join(", ", devices);
        return configuration.FailSwapOn != false
            ? NodeCheckResult.Fail(Swap, $"swap is on ({on}) and failSwapOn is true: run 'swapoff -a' and remove swap from /etc/fstab, or set failSwapOn: false in {config}.")
            : NodeCheckResult.Pass(Swap, $"swap is on ({on}); failSwapOn is false in {config}, so the kubelet runs with it.");
    }

    private static NodeCheckResult CheckBridgeNetfilter(NodeHost host)
    {
        // Loaded as a module it has /sys/module/br_netfilter; built in, its sysctls still appear.
        if (Directory.Exists(host.Sys("module/br_netfilter")))
        {
            return NodeCheckResult.Pass(BridgeNetfilter, "the br_netfilter module is loaded.");
        }
        if (File.Exists(host.Proc(BridgeNfCallIptablesPath)))
        {
            return NodeCheckResult.Pass(BridgeNetfilter, $"bridge netfilter is in the kernel ({host.Proc(BridgeNfCallIptablesPath)} exists).");
        }
        return NodeCheckResult.Fail(BridgeNetfilter,
            "the br_netfilter module is not loaded: run 'modprobe br_netfilter' and add br_netfilter to /etc/modules-load.d/k8s.conf.");
    }

    private static NodeCheckResult CheckSysctl(NodeHost host, string name, string relative, string sysctl)
    {
        var path = host.Proc(relative);
        var content = NodeHost.ReadSmallFile(path);
        var fix = $"run 'sysctl -w {sysctl}=1' and set {sysctl} = 1 in /etc/sysctl.d/k8s.conf";
        if (content is null)
        {
            var module = name == BridgeNfCallIptables ? "load br_netfilter ('modprobe br_netfilter'), then " : "";
            return NodeCheckResult.Fail(name, $"{path} does not exist: {module}{fix}.");
        }
        return content == "1"
            ? NodeCheckResult.Pass(name, $"{path} is 1.")
            : NodeCheckResult.Fail(name, $"{path} contents are not set to 1 (found '{content}'): {fix}.");
    }

    private static NodeCheckResult CheckPort(NodeHost host, int port, string config)
    {
        var listener = PortListenerLookup.Find(host, port);
        if (listener is null)
        {
            return NodeCheckResult.Pass(KubeletPort, $"Port {port} is free.");
        }
        if (listener.ProcessId == host.ProcessId || (listener.CommandLine?.Contains("Start-KubeletAgent", StringComparison.OrdinalIgnoreCase) ?? false))
        {
            return NodeCheckResult.Pass(KubeletPort, $"Port {port} is held by the agent (pid {listener.ProcessId}).");
        }
        var holder = listener.ProcessId is { } pid ? $"pid {pid} ({listener.Command})" : "a process outside this PID namespace";
        return NodeCheckResult.Fail(KubeletPort,
            $"Port {port} is in use by {holder}: stop it (another kubelet?) or set port in {config}.");
    }

    private static NodeCheckResult CheckBinaries(NodeHost host, string name, IReadOnlyList<string> binaries, bool mandatory)
    {
        var missing = binaries.Where(b => host.LookPath(b) is null).ToList();
        if (missing.Count == 0)
        {
            return NodeCheckResult.Pass(name, $"{string.Join(", ", binaries)} found in the system path.");
        }
        var message = $"{string.Join(", ", missing)} not found in system path ({string.Join(":", host.SearchPath)}): install them ({Packages(missing)}).";
        return mandatory ? NodeCheckResult.Fail(name, message) : NodeCheckResult.Warn(name, message);
    }

    private static string Packages(IEnumerable<string> binaries) =>
        "Debian: apt-get install " + string.Join(" ", binaries.Select(b => b switch
        {
            "ip" or "tc" => "iproute2",
            "mount" or "nsenter" => "util-linux",
            "touch" => "coreutils",
            _ => b,
        }).Distinct(StringComparer.Ordinal));

    private static NodeCheckResult CheckContainerRuntime(NodeHost host, string endpoint)
    {
        string socket;
        try { socket = RuntimeEndpoint.ToSocketPath(endpoint); }
        catch (ArgumentException e) { return NodeCheckResult.Fail(ContainerRuntime, $"containerRuntimeEndpoint '{endpoint}' is not a unix socket endpoint: {e.Message}"); }
        if (File.Exists(socket))
        {
            return NodeCheckResult.Pass(ContainerRuntime, $"the CRI socket {socket} exists.");
        }
        var containerd = host.LookPath("containerd");
        var runc = host.LookPath("runc");
        if (containerd is not null && runc is not null)
        {
            return NodeCheckResult.Pass(ContainerRuntime, $"containerd ({containerd}) and runc ({runc}) are installed; the socket {socket} appears when containerd runs.");
        }
        return NodeCheckResult.Fail(ContainerRuntime,
            $"no container runtime: the CRI socket {socket} does not exist and containerd and runc are not both in the system path: install them (Debian: apt-get install containerd runc) and start containerd.");
    }

    private static NodeCheckResult CheckKernelModules(NodeHost host)
    {
        var filesystems = NodeHost.ReadSmallFileAll(host.Proc("filesystems")) ?? "";
        var overlay = Directory.Exists(host.Sys("module/overlay"))
            || filesystems.Split('\n').Any(l => l.Split('\t', ' ').LastOrDefault() == "overlay");
        return overlay
            ? NodeCheckResult.Pass(KernelModules, "overlay is loaded (the runtime's overlayfs snapshotter needs it).")
            : NodeCheckResult.Fail(KernelModules, "the overlay module is not loaded: run 'modprobe overlay' and add overlay to /etc/modules-load.d/k8s.conf.");
    }

    private static NodeCheckResult CheckCgroupDriver(KubeletConfiguration configuration, string config, RuntimeConfigReport runtime)
    {
        if (runtime.Error is not null)
        {
            return NodeCheckResult.Skip(CgroupDriver, $"the container runtime did not answer, so its cgroup driver is unknown: {runtime.Error}");
        }
        if (runtime.CgroupDriver is null)
        {
            return NodeCheckResult.Skip(CgroupDriver, $"the runtime reports no cgroup driver (no RuntimeConfig, no SystemdCgroup in its Status info): {runtime.Source}.");
        }
        var kubelet = configuration.CgroupDriver;
        if (string.Equals(kubelet, runtime.CgroupDriver, StringComparison.Ordinal))
        {
            return NodeCheckResult.Pass(CgroupDriver, string.Create(CultureInfo.InvariantCulture, $"the kubelet and the runtime both use {kubelet} (the runtime's from {runtime.Source})."));
        }
        var systemdCgroup = runtime.CgroupDriver == "systemd" ? "false" : "true";
        return NodeCheckResult.Fail(CgroupDriver,
            $"the kubelet's cgroupDriver is {kubelet} but the runtime uses {runtime.CgroupDriver} ({runtime.Source}): set cgroupDriver: {runtime.CgroupDriver} in {config}, or SystemdCgroup = {systemdCgroup} in containerd's config.toml and restart containerd.");
    }
}
