using System.Globalization;
using System.Text;
using System.Text.Json;
using k8s;
using k8s.Models;
using KubeletPS.Core.Cm;
using KubeletPS.Core.Pods.Manager;
using KubeletPS.Core.Pods.Network;
using KubeletPS.Core.Pods.Objects;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Node;

namespace KubeletPS.Core.Pods.KubeRuntime;

/// <summary>
/// Turns a PodSpec into the CRI requests kubelet would make (kuberuntime_sandbox.go
/// generatePodSandboxConfig, kuberuntime_container.go generateContainerConfig): labels and
/// annotations that let a restarted agent adopt what it finds, log paths, DNS, ports, env with
/// fieldRefs and $(VAR) expansion, mounts, Linux resources and the security context.
/// </summary>
public sealed class PodRuntimeSpecs(string podLogsRoot, string rootDirectory, PodDns dns, string? hostIp)
{
    private readonly PodHostsFile _hosts = new(rootDirectory, dns.ClusterDomain);
    private readonly VolumeSubPaths _subPaths = new(rootDirectory);

    /// <summary>Configmaps and secrets for env and envFrom; null in standalone mode (such env is refused).</summary>
    public IPodConfigObjects? Objects { get; init; }

    /// <summary>The node's allocatable resources: what a resourceFieldRef to a limit the container does not set reads.</summary>
    public Func<IReadOnlyDictionary<string, ResourceQuantity>> NodeAllocatable { get; init; } = DownwardApi.MachineCapacity;

    /// <summary>The pod's cgroup in the cgroup driver's form (the container manager's), the sandbox's cgroup_parent; null leaves the runtime's default.</summary>
    public Func<V1Pod, string?>? CgroupParent { get; init; }

    /// <summary>seccompDefault, the seccomp profile root, and what the host and runtime support.</summary>
    public PodSecuritySettings Security { get; init; } = PodSecuritySettings.ForRoot(rootDirectory);

    /// <summary>Where kubelet mounts the termination-message file from; read back when the container ends.</summary>
    public const string TerminationMessageHostPath = "kubeletps.io/termination-message-host-path";

    public const long CpuPeriod = CgroupCpu.QuotaPeriod;

    public string PodLogDirectory(V1Pod pod) => PodSandboxSpec.DefaultLogDirectory(podLogsRoot, pod.Namespace() ?? "default", pod.Name(), pod.Metadata.Uid);

    public PodSandboxSpec Sandbox(V1Pod pod, uint attempt)
    {
        var spec = pod.Spec;
        var labels = new Dictionary<string, string>(pod.Metadata.Labels ?? new Dictionary<string, string>())
        {
            [KubeletLabels.PodName] = pod.Name(),
            [KubeletLabels.PodNamespace] = pod.Namespace() ?? "default",
            [KubeletLabels.PodUid] = pod.Metadata.Uid,
        };
        var annotations = new Dictionary<string, string>(pod.Metadata.Annotations ?? new Dictionary<string, string>());
        var ports = AllContainers(pod)
            .SelectMany(c => c.Container.Ports ?? [])
            .Select(p => new PortMappingSpec(p.ContainerPort, p.HostPort ?? 0, p.Protocol switch { "UDP" => PortProtocol.Udp, "SCTP" => PortProtocol.Sctp, _ => PortProtocol.Tcp }, p.HostIP))
            .ToList();
        var hostNetwork = spec.HostNetwork == true;
        var podSecurity = spec.SecurityContext;
        var logDirectory = PodLogDirectory(pod);
        Directory.CreateDirectory(logDirectory);
        return new PodSandboxSpec
        {
            Name = pod.Name(),
            Namespace = pod.Namespace() ?? "default",
            Uid = pod.Metadata.Uid,
            Attempt = attempt,
            Hostname = hostNetwork ? null : Hostname(pod),
            LogDirectory = logDirectory,
            Dns = dns.For(pod),
            PortMappings = ports,
            Labels = labels,
            Annotations = annotations,
            HostNetwork = hostNetwork,
            HostPid = spec.HostPID == true,
            HostIpc = spec.HostIPC == true,
            CgroupParent = CgroupParent?.Invoke(pod),
            Privileged = AllContainers(pod).Any(c => c.Container.SecurityContext?.Privileged == true),
            RunAsUser = podSecurity?.RunAsUser,
            RunAsGroup = podSecurity?.RunAsGroup,
            SupplementalGroups = PodSecurityContexts.SupplementalGroups(pod),
            SupplementalGroupsStrict = PodSecurityContexts.SupplementalGroupsStrict(pod),
            Seccomp = PodSecurityContexts.Seccomp(pod, null, Security),
            AppArmor = PodSecurityContexts.AppArmor(pod, null),
            SeLinux = PodSecurityContexts.SeLinux(podSecurity?.SeLinuxOptions),
            Sysctls = podSecurity?.Sysctls?.ToDictionary(s => s.Name, s => s.Value) ?? PodSandboxSpec.EmptyMap,
            RuntimeHandler = null,
        };
    }

    /// <summary>spec.hostname, else the pod name, cut to 63 characters as kubelet does.</summary>
    private static string Hostname(V1Pod pod)
    {
        var name = string.IsNullOrEmpty(pod.Spec.Hostname) ? pod.Name() : pod.Spec.Hostname;
        return name.Length > 63 ? name[..63].TrimEnd('-', '.') : name;
    }

    /// <param name="imageUser">The image's user as the runtime reports it (ImageStatus uid, else username); null when not known.</param>
    public ContainerSpec Container(V1Pod pod, V1Container container, bool isInit, int restartCount, string image, string? podIp, IReadOnlyDictionary<string, string> volumePaths,
        ImageInfo? imageUser = null)
    {
        PodSecurityContexts.VerifyRunAsNonRoot(pod, container, imageUser?.Uid, imageUser?.Username);
        var seccomp = PodSecurityContexts.Seccomp(pod, container, Security);
        var env = BuildEnv(pod, container, podIp);
        var envMap = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in env) envMap[key] = value;
        var command = (container.Command ?? []).Select(c => EnvExpansion.Expand(c, n => envMap.GetValueOrDefault(n), $"container \"{container.Name}\": command")).ToList();
        var args = (container.Args ?? []).Select(a => EnvExpansion.Expand(a, n => envMap.GetValueOrDefault(n), $"container \"{container.Name}\": args")).ToList();

        var mounts = new List<MountSpec>();
        var volumeMounts = container.VolumeMounts ?? [];
        // A new instance gets subPath mounts checked now: the volume may have changed since the last one started.
        _subPaths.CleanContainer(pod.Metadata.Uid, container.Name);
        for (var index = 0; index < volumeMounts.Count; index++)
        {
            var mount = volumeMounts[index];
            if (!volumePaths.TryGetValue(mount.Name, out var hostPath))
                throw new ContainerConfigException($"volume \"{mount.Name}\" of container \"{container.Name}\" is not prepared.");
            if (VolumeSubPaths.SubPathOf(mount, envMap) is { } subPath)
                hostPath = _subPaths.Bind(pod.Metadata.Uid, mount.Name, hostPath, container.Name, index, subPath);
            var propagation = mount.MountPropagation switch
            {
                "HostToContainer" => MountPropagationMode.HostToContainer,
                "Bidirectional" => MountPropagationMode.Bidirectional,
                _ => MountPropagationMode.Private,
            };
            // configMap, secret, downwardAPI and projected: read-only whatever the mount says, as kubelet forces it.
            var readOnly = mount.ReadOnlyProperty == true || PodVolumes.IsAlwaysReadOnly(pod, mount.Name);
            mounts.Add(new MountSpec(mount.MountPath, hostPath, readOnly, propagation));
        }

        // Kubelet's managed /etc/hosts, unless the container mounts its own.
        if (!mounts.Any(m => m.ContainerPath == PodHostsFile.ContainerPath) && _hosts.Ensure(pod, Hostname(pod), podIp) is { } hostsFile)
            mounts.Add(new MountSpec(PodHostsFile.ContainerPath, hostsFile));

        var annotations = new Dictionary<string, string>
        {
            [KubeletLabels.ContainerHash] = Hash(container),
            [KubeletLabels.ContainerRestartCount] = restartCount.ToString(CultureInfo.InvariantCulture),
            [KubeletLabels.PodTerminationGracePeriod] = (pod.Spec.TerminationGracePeriodSeconds ?? 30).ToString(CultureInfo.InvariantCulture),
            [KubeletLabels.ContainerTerminationMessagePolicy] = container.TerminationMessagePolicy ?? "File",
        };
        if (isInit) annotations[KubeletLabels.ContainerType] = "init";
        if (container.Lifecycle?.PreStop is { } preStop) annotations[KubeletLabels.ContainerPreStopHandler] = KubernetesJson.Serialize(preStop);
        if (container.Ports is { Count: > 0 } ports) annotations[KubeletLabels.ContainerPorts] = KubernetesJson.Serialize(ports);
        if (!string.IsNullOrEmpty(container.TerminationMessagePath))
        {
            annotations[KubeletLabels.ContainerTerminationMessagePath] = container.TerminationMessagePath;
            if (!mounts.Any(m => m.ContainerPath == container.TerminationMessagePath))
            {
                var dir = Path.Combine(rootDirectory, "pods", pod.Metadata.Uid, "containers", container.Name);
                Directory.CreateDirectory(dir);
                var file = Path.Combine(dir, $"{restartCount}-{Guid.NewGuid().ToString("N")[..8]}");
                File.WriteAllBytes(file, []);
                PodVolumes.SetMode(file, 0x1B6); // 0666: any runAsUser may write its message
                mounts.Add(new MountSpec(container.TerminationMessagePath, file));
                annotations[TerminationMessageHostPath] = file;
            }
        }

        var security = container.SecurityContext;
        var podSecurity = pod.Spec.SecurityContext;
        return new ContainerSpec
        {
            Name = container.Name,
            Attempt = (uint)restartCount,
            Image = image,
            Command = command,
            Args = args,
            WorkingDir = string.IsNullOrEmpty(container.WorkingDir) ? null : container.WorkingDir,
            Env = env,
            Mounts = mounts,
            LogPath = ContainerSpec.DefaultLogPath(container.Name, (uint)restartCount),
            Labels = new Dictionary<string, string>
            {
                [KubeletLabels.ContainerName] = container.Name,
                [KubeletLabels.PodName] = pod.Name(),
                [KubeletLabels.PodNamespace] = pod.Namespace() ?? "default",
                [KubeletLabels.PodUid] = pod.Metadata.Uid,
            },
            Annotations = annotations,
            Resources = Resources(pod, container),
            // As kubelet: the image's user unless the security context sets one.
            RunAsUser = security?.RunAsUser ?? podSecurity?.RunAsUser ?? imageUser?.Uid,
            RunAsUserName = security?.RunAsUser is null && podSecurity?.RunAsUser is null && imageUser is { Uid: null, Username: { Length: > 0 } name } ? name : null,
            RunAsGroup = security?.RunAsGroup ?? podSecurity?.RunAsGroup,
            SupplementalGroups = PodSecurityContexts.SupplementalGroups(pod),
            SupplementalGroupsStrict = PodSecurityContexts.SupplementalGroupsStrict(pod),
            Seccomp = seccomp,
            AppArmor = PodSecurityContexts.AppArmor(pod, container),
            SeLinux = PodSecurityContexts.SeLinux(security?.SeLinuxOptions ?? podSecurity?.SeLinuxOptions),
            ReadOnlyRootFilesystem = security?.ReadOnlyRootFilesystem == true,
            Privileged = security?.Privileged == true,
            NoNewPrivileges = security?.AllowPrivilegeEscalation == false,
            AddCapabilities = security?.Capabilities?.Add?.ToList() ?? [],
            DropCapabilities = security?.Capabilities?.Drop?.ToList() ?? [],
            SharePodPidNamespace = pod.Spec.ShareProcessNamespace == true,
            Stdin = container.Stdin == true,
            StdinOnce = container.StdinOnce == true,
            Tty = container.Tty == true,
        };
    }

    /// <summary>The container's environment in spec order: envFrom, then env, each value expanded against the ones before.</summary>
    public List<KeyValuePair<string, string>> BuildEnv(V1Pod pod, V1Container container, string? podIp)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var order = new List<string>();
        void Set(string name, string value)
        {
            if (!values.ContainsKey(name)) order.Add(name);
            values[name] = value;
        }

        var ns = pod.Namespace() ?? "default";
        // Static pods may not refer to API objects (as the Kubernetes docs say, and NodeRestriction
        // refuses such mirror pods), the same rule as for their volumes.
        var objects = MirrorPods.IsStaticPod(pod) ? null : Objects;
        var unavailable = Objects is null ? "needs the API server; a standalone kubelet cannot read it"
            : MirrorPods.StaticPodApiObjectsRefused;
        foreach (var from in container.EnvFrom ?? [])
        {
            var optional = from.ConfigMapRef?.Optional ?? from.SecretRef?.Optional ?? false;
            var what = from.ConfigMapRef is not null ? $"configMap \"{from.ConfigMapRef.Name}\"" : $"secret \"{from.SecretRef?.Name}\"";
            if (objects is null)
            {
                if (!optional) throw new ContainerConfigException($"container \"{container.Name}\": envFrom {what}: {unavailable}.");
                continue;
            }
            var data = from.ConfigMapRef is { } cm ? objects.GetConfigMap(ns, cm.Name) : objects.GetSecret(ns, from.SecretRef!.Name);
            if (data is null)
            {
                if (!optional) throw new ContainerConfigException($"container \"{container.Name}\": envFrom {what} not found");
                continue;
            }
            foreach (var (key, value) in data.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                Set((from.Prefix ?? "") + key, System.Text.Encoding.UTF8.GetString(value));
            }
        }
        foreach (var variable in container.Env ?? [])
        {
            if (variable.ValueFrom is not { } from)
            {
                Set(variable.Name, EnvExpansion.Expand(variable.Value ?? "", n => values.GetValueOrDefault(n), $"container \"{container.Name}\": env {variable.Name}"));
                continue;
            }
            if (from.FieldRef is { } field)
            {
                Set(variable.Name, FieldValue(pod, field.FieldPath, podIp));
            }
            else if (from.ResourceFieldRef is { } resource)
            {
                Set(variable.Name, DownwardApi.ResourceField(container, resource, NodeAllocatable()));
            }
            else if (objects is not null && (from.ConfigMapKeyRef is not null || from.SecretKeyRef is not null))
            {
                var (kind, name, key, optional) = from.ConfigMapKeyRef is { } cm
                    ? ("configmap", cm.Name, cm.Key, cm.Optional == true)
                    : ("secret", from.SecretKeyRef!.Name, from.SecretKeyRef.Key, from.SecretKeyRef.Optional == true);
                var data = kind == "configmap" ? objects.GetConfigMap(ns, name) : objects.GetSecret(ns, name);
                if (data is not null && data.TryGetValue(key, out var value)) Set(variable.Name, System.Text.Encoding.UTF8.GetString(value));
                else if (!optional)
                    throw new ContainerConfigException(data is null
                        ? $"container \"{container.Name}\": env {variable.Name}: {kind} \"{name}\" not found"
                        : $"container \"{container.Name}\": env {variable.Name}: couldn't find key {key} in {kind} {ns}/{name}");
            }
            else if ((from.ConfigMapKeyRef?.Optional ?? from.SecretKeyRef?.Optional) == true)
            {
                // Optional and unavailable: left out, as when the key does not exist.
            }
            else
            {
                var what = from.ConfigMapKeyRef is { } cm ? $"configMap \"{cm.Name}\" key \"{cm.Key}\"" : $"secret \"{from.SecretKeyRef?.Name}\" key \"{from.SecretKeyRef?.Key}\"";
                throw new ContainerConfigException($"container \"{container.Name}\": env {variable.Name} comes from {what}: {unavailable}.");
            }
        }
        return order.Select(n => new KeyValuePair<string, string>(n, values[n])).ToList();
    }

    private string FieldValue(V1Pod pod, string path, string? podIp)
    {
        if (DownwardApi.MetadataField(pod, path) is { } metadata) return metadata;
        return path switch
        {
            "spec.nodeName" => pod.Spec.NodeName ?? "",
            "spec.serviceAccountName" => pod.Spec.ServiceAccountName ?? "",
            "status.podIP" or "status.podIPs" => pod.Spec.HostNetwork == true ? hostIp ?? "" : podIp ?? "",
            "status.hostIP" or "status.hostIPs" => hostIp ?? "",
            _ => throw new ContainerConfigException($"fieldRef {path} is not supported."),
        };
    }

    /// <summary>Linux resources from requests and limits (pkg/kubelet/cm helpers), with kubelet's OOM score per QoS class.</summary>
    public static ContainerResourcesSpec Resources(V1Pod pod, V1Container container)
    {
        var requests = container.Resources?.Requests;
        var limits = container.Resources?.Limits;
        decimal? Get(IDictionary<string, ResourceQuantity>? map, string name) => map is not null && map.TryGetValue(name, out var q) ? QuantityValues.Decimal(q) : null;
        var cpuLimit = Get(limits, "cpu");
        var cpuRequest = Get(requests, "cpu") ?? cpuLimit;
        var memoryLimit = Get(limits, "memory");
        var memoryRequest = Get(requests, "memory") ?? memoryLimit;

        var shares = CgroupCpu.MilliCpuToShares(cpuRequest is { } r ? QuantityValues.ToInt64(Math.Ceiling(r * 1000m)) : 0);
        var quota = CgroupCpu.MilliCpuToQuota(cpuLimit is { } l ? QuantityValues.ToInt64(Math.Ceiling(l * 1000m)) : 0, CpuPeriod);
        var qos = QosClass(pod);
        long oomScoreAdj = qos switch
        {
            "Guaranteed" => -997,
            "BestEffort" => 1000,
            _ => Math.Clamp(1000 - (long)(1000m * (memoryRequest ?? 0) / Math.Max(1, MemoryCapacity())), 2, 999),
        };
        return new ContainerResourcesSpec
        {
            CpuShares = shares,
            CpuQuota = quota,
            CpuPeriod = quota > 0 ? CpuPeriod : 0,
            MemoryLimitInBytes = memoryLimit is { } m ? QuantityValues.ToInt64(m) : 0,
            OomScoreAdj = oomScoreAdj,
        };
    }

    /// <summary>Kubernetes' QoS class: Guaranteed, Burstable or BestEffort (the container manager's <see cref="PodQos.GetPodQos"/>).</summary>
    public static string QosClass(V1Pod pod) => PodQos.GetPodQos(pod).ToString();

    /// <summary>Kubelet's container hash: a hash of the spec, so a changed spec restarts the container.</summary>
    public static string Hash(V1Container container)
    {
        var bytes = Encoding.UTF8.GetBytes(KubernetesJson.Serialize(container));
        uint hash = 2166136261;
        foreach (var b in bytes)
        {
            hash ^= b;
            hash *= 16777619;
        }
        return hash.ToString("x", CultureInfo.InvariantCulture);
    }

    public static IEnumerable<(V1Container Container, bool IsInit)> AllContainers(V1Pod pod) =>
        (pod.Spec.InitContainers ?? []).Select(c => (c, true)).Concat((pod.Spec.Containers ?? []).Select(c => (c, false)));

    /// <summary>The node's memory, for the OOM score of burstable containers.</summary>
    public static long MemoryCapacity() => MachineInfoReader.HostMemoryCapacityBytes;

    /// <summary>The preStop handler kept on a container as an annotation (for pods no longer in any source).</summary>
    public static V1LifecycleHandler? PreStopFrom(IReadOnlyDictionary<string, string> annotations)
    {
        if (!annotations.TryGetValue(KubeletLabels.ContainerPreStopHandler, out var json)) return null;
        try { return KubernetesJson.Deserialize<V1LifecycleHandler>(json); }
        catch (JsonException) { return null; }
    }
}
