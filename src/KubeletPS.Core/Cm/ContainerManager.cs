using k8s.Models;
using KubeletPS.Core.NodeValidation;

namespace KubeletPS.Core.Cm;

/// <summary>
/// kubelet's container manager (container_manager_linux.go, node_container_manager_linux.go): at start the
/// node allocatable cgroup "kubepods" below cgroupRoot, bounded by capacity − systemReserved − kubeReserved
/// when enforceNodeAllocatable has "pods" (else by capacity), the reserved cgroups enforced when listed, and
/// the QoS cgroups; then the pod cgroups as pods come and go. The cgroup driver must be the runtime's.
/// With cgroupsPerQOS false nothing is created and pods keep the runtime's default parent.
/// </summary>
public sealed class ContainerManager
{
    private readonly ContainerManagerOptions _options;
    private readonly ICgroupManager _cgroups;
    private readonly Func<NodeCapacity> _capacity;
    private readonly IKubeletLog _log;
    private readonly object _lock = new();

    public ContainerManager(ContainerManagerOptions options, Func<NodeCapacity> capacity, IKubeletLog log, ICgroupManager? cgroups = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _capacity = capacity ?? throw new ArgumentNullException(nameof(capacity));
        _log = log ?? throw new ArgumentNullException(nameof(log));
        if (options.Validate() is { Count: > 0 } errors)
            throw new KubeletException(string.Join("; ", errors), KubeletErrorKind.InvalidData, "enforceNodeAllocatable");
        _cgroups = cgroups ?? new CgroupFileSystemManager(options.Driver, options.CgroupFileSystemRoot);
        var root = CgroupName.Parse(options.CgroupRoot, options.Driver);
        Qos = new QosContainerManager(_cgroups, root.Child("kubepods"));
        Pods = new PodContainerManager(_cgroups, Qos, options.PodPidsLimit);
    }

    public ContainerManagerOptions Options => _options;
    public ICgroupManager Cgroups => _cgroups;
    public QosContainerManager Qos { get; }
    public PodContainerManager Pods { get; }

    /// <summary>kubepods' values now: the allocatable bound with "pods" enforced, else the capacity (kubelet still sets shares).</summary>
    public ResourceConfig KubepodsConfig()
    {
        var capacity = _capacity();
        return _options.EnforceNodeAllocatable.Contains(ContainerManagerOptions.PodsEnforcement)
            ? NodeReservations.KubepodsBound(capacity, _options.SystemReserved, _options.KubeReserved)
            : NodeReservations.KubepodsBound(capacity, new Dictionary<string, string>(), new Dictionary<string, string>());
    }

    /// <summary>
    /// The cgroup driver to run with, as kubelet 1.32 decides it (KubeletCgroupDriverFromCRI, beta and on): the
    /// runtime's when it reports one (RuntimeConfig, else containerd's reported config), since pods placed
    /// with the other driver fail to start; a configured cgroupDriver that differs is then named in a warning
    /// with both values. When the runtime says nothing, the configured driver is used and that is logged.
    /// </summary>
    public CgroupDriver ResolveDriver(RuntimeConfigReport runtime)
    {
        var configured = ContainerManagerOptions.DriverName(_options.Driver);
        if (runtime.Error is not null || runtime.CgroupDriver is null)
        {
            _log.Info($"the container runtime reports no cgroup driver ({runtime.Error ?? runtime.Source}); falling back to cgroupDriver \"{configured}\" from the kubelet configuration.");
            return _options.Driver;
        }
        var driver = ContainerManagerOptions.ParseDriver(runtime.CgroupDriver);
        if (driver != _options.Driver)
            _log.Warning($"cgroupDriver \"{configured}\" in the kubelet configuration is different from the container runtime's cgroup driver \"{runtime.CgroupDriver}\" ({runtime.Source}); using the runtime's \"{runtime.CgroupDriver}\", as kubelet does (KubeletCgroupDriverFromCRI). Set cgroupDriver: {runtime.CgroupDriver} to silence this.");
        else
            _log.Info($"cgroup driver {configured}, as the container runtime's ({runtime.Source}).");
        return driver;
    }

    /// <summary>Creates kubepods with its bound, enforces the reserved cgroups, and creates the QoS cgroups.</summary>
    public void Start(IEnumerable<V1Pod> activePods)
    {
        if (!_options.CgroupsPerQos) return;
        var kubepods = KubepodsConfig();
        _cgroups.Create(Qos.Kubepods, kubepods);
        _log.Info($"node allocatable cgroup {_cgroups.Name(Qos.Kubepods)} ({_options.Driver}, cgroup {_cgroups.Version}): memory {kubepods.Memory} bytes, cpu shares {kubepods.CpuShares}, pids {kubepods.PidsLimit?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "max"}.");
        if (_options.EnforceNodeAllocatable.Contains(ContainerManagerOptions.SystemReservedEnforcement))
            EnforceExisting(_options.SystemReservedCgroup, _options.SystemReserved, "System Reserved");
        if (_options.EnforceNodeAllocatable.Contains(ContainerManagerOptions.KubeReservedEnforcement))
            EnforceExisting(_options.KubeReservedCgroup, _options.KubeReserved, "Kube Reserved");
        lock (_lock) Qos.Start(activePods);
    }

    /// <summary>kubelet's enforceExistingCgroup: the reserved cgroup must exist; it gets the reservation as its limits.</summary>
    private void EnforceExisting(string cgroup, IReadOnlyDictionary<string, string> reserved, string what)
    {
        var name = CgroupName.Parse(cgroup, _options.Driver);
        if (!_cgroups.Exists(name))
            throw new KubeletException($"Failed to enforce {what} Cgroup Limits on \"{cgroup}\": \"{cgroup}\" cgroup does not exist", KubeletErrorKind.NotFound, cgroup);
        _cgroups.Update(name, NodeReservations.ReservedCgroupConfig(reserved));
        _log.Info($"enforced {what.ToLowerInvariant()} limits on cgroup {cgroup}.");
    }

    /// <summary>The sandbox's cgroup_parent: the pod cgroup in the driver's form; null with cgroupsPerQOS off (the runtime's default).</summary>
    public string? PodCgroupParent(V1Pod pod) => _options.CgroupsPerQos ? Pods.CgroupParent(pod) : null;

    /// <summary>Before a pod's sandbox: the QoS cgroups updated for it, and its cgroup created with its limits (kubelet's syncPod).</summary>
    public void EnsurePodCgroup(V1Pod pod, IEnumerable<V1Pod> activePods)
    {
        if (!_options.CgroupsPerQos) return;
        lock (_lock)
        {
            if (Pods.Exists(pod)) return;
            Qos.UpdateCgroups(activePods.Where(p => p.Metadata.Uid != pod.Metadata.Uid).Append(pod));
            if (Pods.EnsureExists(pod)) _log.Debug($"pod {pod.Namespace()}/{pod.Name()}: created cgroup {Pods.CgroupParent(pod)}.");
        }
    }

    /// <summary>
    /// kubelet's cleanupOrphanedPodCgroups: a pod cgroup whose pod is neither active nor has anything left in the
    /// runtime is removed, then the QoS cgroups updated. One that still holds processes, or cannot be removed yet, is tried at the next call.
    /// </summary>
    public IReadOnlyList<string> CleanupOrphanedPodCgroups(IReadOnlyCollection<V1Pod> activePods, IReadOnlySet<string> runtimePodUids)
    {
        if (!_options.CgroupsPerQos) return [];
        var removed = new List<string>();
        lock (_lock)
        {
            var active = activePods.Select(p => p.Metadata.Uid).ToHashSet(StringComparer.Ordinal);
            foreach (var (uid, name) in Pods.GetAllPodsFromCgroups())
            {
                if (active.Contains(uid) || runtimePodUids.Contains(uid)) continue;
                // kubelet kills what is left first; this agent leaves a cgroup with processes to the runtime's removal.
                if (_cgroups.HasProcesses(name)) continue;
                try
                {
                    Pods.Destroy(name);
                    removed.Add(uid);
                    _log.Info($"pod {uid}: removed its cgroup {_cgroups.Name(name)} (the pod is gone).");
                }
                catch (CgroupException e)
                {
                    _log.Warning($"pod {uid}: cannot remove its cgroup yet: {e.Message}");
                }
            }
            if (removed.Count > 0) Qos.UpdateCgroups(activePods);
        }
        return removed;
    }
}
