using k8s.Models;
using KubeletPS.Core.Cm;
using KubeletPS.Core.Node;
using KubeletPS.Core.NodeValidation;
using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Pods.Workers;

namespace KubeletPS.Core.Agent;

// The node's resources as the pod half manages them: the container manager's start, the eviction manager's loop, the machine's capacity.
public sealed partial class PodSyncAgent
{
    /// <summary>The cgroup driver taken from the runtime, then kubepods, the reserved and the QoS cgroups (kubelet's containerManager.Start).</summary>
    private async Task StartContainerManagerAsync(CancellationToken ct)
    {
        if (_containerManager is not { } manager) return;
        if (manager.ResolveDriver(await RuntimeConfigReport.ReadAsync(_runtime, ct).ConfigureAwait(false)) is var driver && driver != manager.Options.Driver)
        {
            manager = new ContainerManager(manager.Options with { Driver = driver }, MachineCapacity(_options.RootDirectory), _log);
            _containerManager = manager;
        }
        try { manager.Start([]); }
        catch (CgroupException e) { throw new KubeletException($"container manager: {e.Message}", e.Category, e.Target, e); }
    }

    /// <summary>
    /// The eviction manager's loop (<see cref="EvictionManager.RunAsync"/>) over the active pods: desired, with a
    /// worker, not finished. Emptied volumes are measured only while some pod has an emptyDir with a sizeLimit.
    /// </summary>
    private Task MonitorEvictionsAsync(CancellationToken ct) =>
        _eviction.RunAsync(ActivePods, () => Desired.Values.Any(EmptyDirLimits.HasSizeLimit) ? _emptyDirLimits : null, new WorkerPodEvictor(_workers), ct);

    /// <summary>kubelet's GetActivePods: the pods desired and running here that have not finished (what eviction ranks and the QoS cgroups are sized for).</summary>
    private IReadOnlyList<V1Pod> ActivePods()
    {
        // The desired pods (as kubelet's pod manager holds them), not the workers' published snapshots: a pod
        // whose sandbox is being created has no status yet, and the QoS cgroups must already count it.
        var desired = Desired;
        var finished = _workers.FinishedPodUids;
        return desired.Values.Where(p => _workers.IsKnown(p.Metadata.Uid) && !finished.Contains(p.Metadata.Uid)).ToList();
    }

    /// <summary>The eviction manager's killPodFunc: the pod's worker kills it and reports it Failed/Evicted.</summary>
    private sealed class WorkerPodEvictor(PodWorkers workers) : IPodEvictor
    {
        public bool EvictPod(V1Pod pod, long gracePeriodSeconds, string message) =>
            workers.EvictPod(pod.Metadata.Uid, EmptyDirLimits.Reason, message, TimeSpan.FromSeconds(gracePeriodSeconds));

        public bool IsCleanedUp(V1Pod pod) =>
            !workers.IsKnown(pod.Metadata.Uid)
            || workers.Phase(pod.Metadata.Uid) is null or "Failed" or "Succeeded";
    }

    /// <summary>
    /// Without a Node object (standalone), what downward API limits fall back to: the machine's
    /// CPUs, memory and the root directory's filesystem, read once.
    /// </summary>
    private static Func<IReadOnlyDictionary<string, ResourceQuantity>> MachineAllocatable(string rootDirectory)
    {
        var machine = new Lazy<IReadOnlyDictionary<string, ResourceQuantity>>(() => new MachineInfoReader("/", rootDirectory).Read().Capacity());
        return () => machine.Value;
    }

    /// <summary>What kubepods is bounded by: the machine's CPUs, memory and pid_max, read once.</summary>
    private static Func<NodeCapacity> MachineCapacity(string rootDirectory)
    {
        var machine = new Lazy<NodeCapacity>(() =>
        {
            var info = new MachineInfoReader("/", rootDirectory).Read();
            return new NodeCapacity(info.CpuCount * 1000L, info.MemoryCapacityBytes, info.PidMax);
        });
        return () => machine.Value;
    }
}
