using k8s.Models;
using KubeletPS.Core.Pods.KubeRuntime;

namespace KubeletPS.Core.Pods.Admission;

/// <summary>
/// The admission checks kubelet runs on every pod, static or from the API, before it runs, that concern isolation:
/// sysctls (pkg/kubelet/sysctl allowlist: the safe set plus allowedUnsafeSysctls, namespaced rules), host ports
/// already taken by an admitted pod (the scheduler's NodePorts fit in lifecycle/predicate.go), AppArmor on a host
/// without it, and the securityContext fields this agent cannot make take effect, so that none is silently dropped.
/// The first failing check decides.
/// </summary>
public static class PodSecurityAdmission
{
    public const string SysctlForbiddenReason = "SysctlForbidden";
    public const string NodePortsReason = "NodePorts";
    public const string AppArmorReason = "AppArmor";
    public const string SupplementalGroupsPolicyNotSupportedReason = "SupplementalGroupsPolicyNotSupported";

    /// <summary>Not a kubelet reason: a field kubelet supports with features this agent or node lacks (user namespaces, Windows).</summary>
    public const string SecurityContextNotSupportedReason = "SecurityContextNotSupported";

    /// <summary>kubelet's SafeSysctlAllowlist (pkg/kubelet/sysctl/safe_sysctls.go); all are namespaced and need kernel 4.15 at most.</summary>
    public static readonly IReadOnlyList<string> SafeSysctls =
    [
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
    ];

    /// <param name="pod">The pod to admit.</param>
    /// <param name="admittedPods">Pods admitted before it and still running (the pod itself is ignored if present).</param>
    /// <param name="settings">The node's security settings.</param>
    public static AdmissionResult Admit(V1Pod pod, IEnumerable<V1Pod> admittedPods, PodSecuritySettings settings)
    {
        if (CheckSysctls(pod, settings.AllowedUnsafeSysctls) is { } sysctl) return Rejected(SysctlForbiddenReason, "forbidden sysctl: " + sysctl);
        var others = admittedPods.Where(p => p.Metadata?.Uid != pod.Metadata?.Uid);
        if (HostPortConflict(pod, others) is not null)
            return Rejected(NodePortsReason, $"Predicate {NodePortsReason} failed: node(s) didn't have free ports for the requested pod ports");
        if (!settings.AppArmorEnabled && RequestsAppArmor(pod))
            return Rejected(AppArmorReason, "Cannot enforce AppArmor: AppArmor is not enabled on the host");
        if (PodSecurityContexts.SupplementalGroupsStrict(pod) && !settings.SupplementalGroupsPolicySupported)
            return Rejected(SupplementalGroupsPolicyNotSupportedReason, "SupplementalGroupsPolicy=Strict is not supported in this node");
        if (UnsupportedField(pod) is { } field) return Rejected(SecurityContextNotSupportedReason, field);
        if (settings.SeLinuxEnabled && SeLinuxField(pod) is { } seLinux)
            return Rejected(SecurityContextNotSupportedReason, $"{seLinux}: this agent does not relabel volumes for SELinux, so the pod's volumes would not be usable under its label on this SELinux host");
        return AdmissionResult.Admit;
    }

    private static AdmissionResult Rejected(string reason, string message) => new(false, reason, "Pod was rejected: " + message);

    /// <summary>The first sysctl kubelet's allowlist refuses, as its message ("…" not allowlisted), or null.</summary>
    public static string? CheckSysctls(V1Pod pod, IReadOnlyList<string> allowedUnsafe)
    {
        var hostNetwork = pod.Spec.HostNetwork == true;
        var hostIpc = pod.Spec.HostIPC == true;
        foreach (var sysctl in pod.Spec.SecurityContext?.Sysctls ?? [])
        {
            // utilsysctl.NormalizeName: the slash form (net/ipv4/ip_forward) is the dotted one.
            var name = (sysctl.Name ?? "").Replace('/', '.');
            var ns = NamespaceOf(name);
            if (ns == "ipc" && hostIpc) return $"\"{name}\" not allowed with host ipc enabled";
            if (ns == "net" && hostNetwork) return $"\"{name}\" not allowed with host net enabled";
            if (SafeSysctls.Contains(name) || allowedUnsafe.Any(p => Matches(p, name))) continue;
            return $"\"{name}\" not allowlisted";
        }
        return null;
    }

    private static readonly System.Text.RegularExpressions.Regex SysctlPattern =
        new(@"^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*([a-z0-9][-_a-z0-9]*)?[a-z0-9*]$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>
    /// kubelet's NewAllowlist check of allowedUnsafeSysctls, which stops kubelet from starting: each entry a sysctl name or a
    /// prefix ending in *, of a namespaced sysctl (a node-wide one would change the node for every pod). Null when all pass.
    /// </summary>
    public static string? CheckAllowedUnsafeSysctls(IEnumerable<string> patterns)
    {
        foreach (var raw in patterns)
        {
            var pattern = raw.Replace('/', '.');
            if (pattern.Length > 253 || !SysctlPattern.IsMatch(pattern))
                return $"allowedUnsafeSysctls: sysctl \"{raw}\" must have at most 253 characters and match regex {SysctlPattern}";
            if (NamespaceOf(pattern.TrimEnd('*')) is null)
                return $"allowedUnsafeSysctls: the sysctls \"{raw}\" are not known to be namespaced";
        }
        return null;
    }

    private static bool Matches(string pattern, string name)
    {
        pattern = pattern.Replace('/', '.');
        return pattern.EndsWith('*') ? name.StartsWith(pattern[..^1], StringComparison.Ordinal) : pattern == name;
    }

    /// <summary>pkg/kubelet/sysctl/namespace.go: the namespace a sysctl belongs to, or null when it is node-wide.</summary>
    public static string? NamespaceOf(string name)
    {
        if (name == "kernel.sem") return "ipc";
        if (name.StartsWith("kernel.shm", StringComparison.Ordinal) || name.StartsWith("kernel.msg", StringComparison.Ordinal) || name.StartsWith("fs.mqueue.", StringComparison.Ordinal)) return "ipc";
        if (name.StartsWith("net.", StringComparison.Ordinal)) return "net";
        return null;
    }

    /// <summary>The first host port of <paramref name="pod"/> an admitted pod already uses (same protocol and port, overlapping host IP), or null.</summary>
    public static V1ContainerPort? HostPortConflict(V1Pod pod, IEnumerable<V1Pod> admitted)
    {
        var wanted = HostPorts(pod).ToList();
        if (wanted.Count == 0) return null;
        var used = admitted.SelectMany(HostPorts).ToList();
        return wanted.FirstOrDefault(w => used.Any(u => Conflicts(w, u)));
    }

    private static IEnumerable<V1ContainerPort> HostPorts(V1Pod pod) =>
        PodRuntimeSpecs.AllContainers(pod).SelectMany(c => c.Container.Ports ?? []).Where(p => p.HostPort is > 0);

    private static bool Conflicts(V1ContainerPort a, V1ContainerPort b)
    {
        if (a.HostPort != b.HostPort || (a.Protocol ?? "TCP") != (b.Protocol ?? "TCP")) return false;
        static string Ip(string? ip) => string.IsNullOrEmpty(ip) ? "0.0.0.0" : ip;
        var (ipA, ipB) = (Ip(a.HostIP), Ip(b.HostIP));
        return ipA == "0.0.0.0" || ipB == "0.0.0.0" || ipA == ipB;
    }

    /// <summary>Whether a container asks for an AppArmor profile other than Unconfined (kubelet's apparmor isRequired).</summary>
    public static bool RequestsAppArmor(V1Pod pod)
    {
        if (pod.Spec.SecurityContext?.AppArmorProfile is { Type: not "Unconfined" }) return true;
        return PodRuntimeSpecs.AllContainers(pod).Any(c => PodSecurityContexts.RequestedAppArmor(pod, c.Container) is { Type: not "Unconfined" });
    }

    /// <summary>
    /// The first SELinux field the pod sets, or null. Without SELinux on the host (the usual case here) kubelet and the
    /// runtime give labels no effect, and so does this agent; seLinuxOptions are passed to the runtime either way.
    /// </summary>
    public static string? SeLinuxField(V1Pod pod)
    {
        if (pod.Spec.SecurityContext?.SeLinuxChangePolicy is not null) return "spec.securityContext.seLinuxChangePolicy";
        if (pod.Spec.SecurityContext?.SeLinuxOptions is not null) return "spec.securityContext.seLinuxOptions";
        foreach (var (container, isInit) in PodRuntimeSpecs.AllContainers(pod))
        {
            if (container.SecurityContext?.SeLinuxOptions is not null)
                return $"spec.{(isInit ? "initContainers" : "containers")}[{container.Name}].securityContext.seLinuxOptions";
        }
        return null;
    }

    /// <summary>A securityContext field this agent cannot make take effect, as a message naming it, or null.</summary>
    public static string? UnsupportedField(V1Pod pod)
    {
        if (pod.Spec.HostUsers == false)
            return "spec.hostUsers: false needs user namespaces, which this agent does not set up; remove the field or run the pod on a node that supports them";
        if (pod.Spec.SecurityContext?.WindowsOptions is not null)
            return "spec.securityContext.windowsOptions: this is a Linux node, Windows options cannot take effect";
        foreach (var (container, isInit) in PodRuntimeSpecs.AllContainers(pod))
        {
            var path = $"spec.{(isInit ? "initContainers" : "containers")}[{container.Name}].securityContext";
            var security = container.SecurityContext;
            if (security?.ProcMount is { } procMount && procMount != "Default")
                return $"{path}.procMount: {procMount} needs user namespaces (hostUsers: false), which this agent does not set up; use Default";
            if (security?.WindowsOptions is not null)
                return $"{path}.windowsOptions: this is a Linux node, Windows options cannot take effect";
        }
        return null;
    }
}
