using k8s.Models;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Pods.KubeRuntime;

/// <summary>The node's security settings the pod and container security contexts are resolved against.</summary>
public sealed class PodSecuritySettings
{
    /// <summary>KubeletConfiguration seccompDefault: a container without a seccomp profile gets RuntimeDefault.</summary>
    public bool SeccompDefault { get; init; }

    /// <summary>Where Localhost seccomp profiles live: kubelet's {rootDirectory}/seccomp (a fixed path, no flag or field sets it).</summary>
    public string SeccompProfileRoot { get; init; } = KubeletConfigurationDefaults.DefaultRootDirectory + "/seccomp";

    /// <summary>KubeletConfiguration allowedUnsafeSysctls: names, or prefixes ending in <c>*</c>, allowed besides the safe set.</summary>
    public IReadOnlyList<string> AllowedUnsafeSysctls { get; init; } = [];

    /// <summary>Whether the kernel enforces AppArmor (<c>/sys/module/apparmor/parameters/enabled</c> is Y).</summary>
    public bool AppArmorEnabled { get; init; } = AppArmorHost.IsEnabled();

    /// <summary>Whether the kernel enforces SELinux (<c>/sys/fs/selinux/enforce</c> exists, as libselinux's is_selinux_enabled reads it).</summary>
    public bool SeLinuxEnabled { get; init; } = File.Exists("/sys/fs/selinux/enforce");

    /// <summary>Whether the runtime reported the supplemental_groups_policy feature (CRI Status features); learnt when the agent connects.</summary>
    public bool SupplementalGroupsPolicySupported { get; set; }

    public static PodSecuritySettings ForRoot(string rootDirectory) => new() { SeccompProfileRoot = Path.Combine(rootDirectory, "seccomp") };
}

/// <summary>Whether this host enforces AppArmor, as kubelet's apparmor.IsEnabled reads it.</summary>
public static class AppArmorHost
{
    public const string EnabledPath = "/sys/module/apparmor/parameters/enabled";

    public static bool IsEnabled()
    {
        try { return File.ReadAllText(EnabledPath).StartsWith('Y'); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }
}

/// <summary>
/// Resolves the pod and container security contexts into what the runtime is asked for, as kubelet's
/// kuberuntime (security_context.go, helpers.go getSeccompProfile / getAppArmorProfile,
/// security_context_others.go verifyRunAsNonRoot) does: the container's field wins over the pod's.
/// </summary>
public static class PodSecurityContexts
{
    public const string AppArmorAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/";

    /// <summary>The container's seccomp profile; the sandbox's when <paramref name="container"/> is null.</summary>
    public static SecurityProfileSpec Seccomp(V1Pod pod, V1Container? container, PodSecuritySettings settings)
    {
        var field = container?.SecurityContext?.SeccompProfile ?? pod.Spec.SecurityContext?.SeccompProfile;
        var owner = container is null ? "pod" : $"container \"{container.Name}\"";
        if (field is null) return new SecurityProfileSpec(settings.SeccompDefault ? SecurityProfileType.RuntimeDefault : SecurityProfileType.Unconfined);
        switch (field.Type)
        {
            case "RuntimeDefault":
                return new SecurityProfileSpec(SecurityProfileType.RuntimeDefault);
            case "Unconfined":
                return new SecurityProfileSpec(SecurityProfileType.Unconfined);
            case "Localhost":
                var name = field.LocalhostProfile;
                if (string.IsNullOrEmpty(name)) throw new ContainerConfigException("localhostProfile must be set if seccompProfile type is Localhost.");
                if (Path.IsPathRooted(name) || name.Split('/').Contains(".."))
                    throw new ContainerConfigException($"{owner}: seccompProfile.localhostProfile \"{name}\" must be a path relative to {settings.SeccompProfileRoot} without '..'.");
                var path = Path.Combine(settings.SeccompProfileRoot, name);
                if (!File.Exists(path))
                    throw new ContainerConfigException($"{owner}: seccomp profile \"{path}\" (seccompProfile.localhostProfile \"{name}\") does not exist on this node.");
                return new SecurityProfileSpec(SecurityProfileType.Localhost, path);
            default:
                throw new ContainerConfigException($"{owner}: seccompProfile.type \"{field.Type}\" is not RuntimeDefault, Unconfined or Localhost.");
        }
    }

    /// <summary>
    /// The AppArmor profile asked for (container field, then the beta annotation, then the pod field), or null when none
    /// is; Unconfined is always honoured. Admission has refused profiles on a host without AppArmor.
    /// </summary>
    public static SecurityProfileSpec? AppArmor(V1Pod pod, V1Container? container)
    {
        if (RequestedAppArmor(pod, container) is not { } requested) return null;
        return requested.Type switch
        {
            "Unconfined" => new SecurityProfileSpec(SecurityProfileType.Unconfined),
            "Localhost" => new SecurityProfileSpec(SecurityProfileType.Localhost, requested.LocalhostProfile),
            _ => new SecurityProfileSpec(SecurityProfileType.RuntimeDefault),
        };
    }

    /// <summary>The AppArmor profile a container (or, with null, the pod) asks for, with the annotation read as the field.</summary>
    public static V1AppArmorProfile? RequestedAppArmor(V1Pod pod, V1Container? container)
    {
        if (container?.SecurityContext?.AppArmorProfile is { } field) return field;
        if (container is not null && pod.Metadata?.Annotations?.TryGetValue(AppArmorAnnotationPrefix + container.Name, out var value) == true)
        {
            return value switch
            {
                "unconfined" => new V1AppArmorProfile { Type = "Unconfined" },
                "runtime/default" => new V1AppArmorProfile { Type = "RuntimeDefault" },
                _ when value.StartsWith("localhost/", StringComparison.Ordinal) => new V1AppArmorProfile { Type = "Localhost", LocalhostProfile = value["localhost/".Length..] },
                _ => new V1AppArmorProfile { Type = value },
            };
        }
        return pod.Spec.SecurityContext?.AppArmorProfile;
    }

    public static SeLinuxSpec? SeLinux(V1SELinuxOptions? options) =>
        options is null ? null : new SeLinuxSpec(options.User, options.Role, options.Type, options.Level);

    /// <summary>Kubelet's supplemental groups for every container: spec.securityContext.supplementalGroups, then fsGroup.</summary>
    public static IReadOnlyList<long> SupplementalGroups(V1Pod pod)
    {
        var security = pod.Spec.SecurityContext;
        var groups = (security?.SupplementalGroups ?? []).Where(g => g is not null).Select(g => g!.Value).ToList();
        if (security?.FsGroup is { } fsGroup && !groups.Contains(fsGroup)) groups.Add(fsGroup);
        return groups;
    }

    public static bool SupplementalGroupsStrict(V1Pod pod) => pod.Spec.SecurityContext?.SupplementalGroupsPolicy == "Strict";

    /// <summary>kubelet's format.Pod: NAME_NAMESPACE(UID).</summary>
    public static string FormatPod(V1Pod pod) => $"{pod.Name()}_{pod.Namespace() ?? "default"}({pod.Metadata.Uid})";

    /// <summary>
    /// kubelet's verifyRunAsNonRoot: with runAsNonRoot, the effective runAsUser must not be 0, or without one the image's
    /// user must be numeric and not 0 (an image without a user runs as root).
    /// </summary>
    public static void VerifyRunAsNonRoot(V1Pod pod, V1Container container, long? imageUid, string? imageUserName)
    {
        var nonRoot = container.SecurityContext?.RunAsNonRoot ?? pod.Spec.SecurityContext?.RunAsNonRoot;
        if (nonRoot != true) return;
        var runAsUser = container.SecurityContext?.RunAsUser ?? pod.Spec.SecurityContext?.RunAsUser;
        if (runAsUser is { } uid)
        {
            if (uid == 0) throw new ContainerConfigException($"container's runAsUser breaks non-root policy (pod: \"{FormatPod(pod)}\", container: {container.Name})");
            return;
        }
        if (imageUid is null && !string.IsNullOrEmpty(imageUserName))
            throw new ContainerConfigException($"container has runAsNonRoot and image has non-numeric user ({imageUserName}), cannot verify user is non-root (pod: \"{FormatPod(pod)}\", container: {container.Name})");
        if ((imageUid ?? 0) == 0)
            throw new ContainerConfigException($"container has runAsNonRoot and image will run as root (pod: \"{FormatPod(pod)}\", container: {container.Name})");
    }
}
