using k8s;
using k8s.Models;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Stats;

namespace KubeletPS.Core.Tests.Pods.Eviction;

/// <summary>Observations the test sets: each signal's available amount and capacity, and each pod's memory and disk use.</summary>
internal sealed class FakeSignalSource : IEvictionSignalSource
{
    public Dictionary<string, SignalObservation> Signals { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, PodStats> Pods { get; } = new(StringComparer.Ordinal);
    public bool DedicatedImageFs { get; set; }
    public int Observations { get; private set; }
    public DateTimeOffset Now { get; set; } = DateTimeOffset.UnixEpoch;

    /// <summary>Sets a signal measured now (its time moves with each call, as a new measurement does).</summary>
    public void Set(string signal, long available, long capacity) => Signals[signal] = new SignalObservation(available, capacity, Now);

    public void SetPod(V1Pod pod, long workingSet, long rootfs = 0, long logs = 0) => Pods[pod.Metadata.Uid] = new PodStats
    {
        PodRef = new PodReference { Name = pod.Metadata.Name, Namespace = pod.Metadata.NamespaceProperty, Uid = pod.Metadata.Uid },
        Memory = new MemoryStats { WorkingSetBytes = (ulong)workingSet },
        Containers = pod.Spec.Containers.Select(c => new ContainerStats
        {
            Name = c.Name,
            Memory = new MemoryStats { WorkingSetBytes = (ulong)(workingSet / pod.Spec.Containers.Count) },
            Rootfs = new FsStats { UsedBytes = (ulong)rootfs, InodesUsed = 1 },
            Logs = new FsStats { UsedBytes = (ulong)logs, InodesUsed = 1 },
        }).ToList(),
    };

    public Task<bool> HasDedicatedImageFsAsync(CancellationToken cancellationToken) => Task.FromResult(DedicatedImageFs);

    public Task<EvictionObservations> ObserveAsync(CancellationToken cancellationToken)
    {
        Observations++;
        // Each round is a new measurement: its time moves on, as kubelet's thresholdsUpdatedStats requires.
        Now = Now.AddSeconds(1);
        var signals = Signals.ToDictionary(p => p.Key, p => p.Value with { Time = Now });
        return Task.FromResult(new EvictionObservations(signals, new Dictionary<string, PodStats>(Pods)));
    }
}

/// <summary>Records the evictions asked for; a pod listed in <see cref="Refuse"/> is already ending.</summary>
internal sealed class FakePodEvictor : IPodEvictor
{
    public List<(string Name, long GracePeriod, string Message)> Evicted { get; } = [];
    public HashSet<string> Refuse { get; } = [];

    public bool EvictPod(V1Pod pod, long gracePeriodSeconds, string message)
    {
        if (Refuse.Contains(pod.Metadata.Name)) return false;
        Evicted.Add((pod.Metadata.Name, gracePeriodSeconds, message));
        return true;
    }

    public bool IsCleanedUp(V1Pod pod) => true;
}

internal sealed class RecordingEvents : IEventRecorder
{
    public List<(string Kind, string Name, string Type, string Reason, string Message)> Events { get; } = [];

    public void Event(V1ObjectReference involvedObject, string type, string reason, string message) =>
        Events.Add((involvedObject.Kind, involvedObject.Name, type, reason, message));
}

/// <summary>Garbage collectors that free what the test says, by raising a signal's available amount.</summary>
internal sealed class FakeNodeReclaim(FakeSignalSource source, string signal, long freedBytes) : IImageGarbageCollector, IContainerGarbageCollector
{
    public List<string> Calls { get; } = [];

    public Task<long> DeleteUnusedImagesAsync(CancellationToken cancellationToken)
    {
        Calls.Add("images");
        var o = source.Signals[signal];
        source.Signals[signal] = o with { Available = o.Available + freedBytes };
        return Task.FromResult(freedBytes);
    }

    public Task DeleteAllUnusedContainersAsync(CancellationToken cancellationToken)
    {
        Calls.Add("containers");
        return Task.CompletedTask;
    }
}

internal static class EvictionPods
{
    /// <summary>A running pod: requests and limits as "memory" quantities per container, priority, annotations.</summary>
    public static V1Pod Pod(string name, string? memoryRequest = null, string? memoryLimit = null, int priority = 0, string annotations = "{}", string tolerations = "[]")
    {
        var resources = new List<string>();
        if (memoryRequest is not null) resources.Add($"\"requests\":{{\"memory\":\"{memoryRequest}\",\"cpu\":\"100m\"}}");
        if (memoryLimit is not null) resources.Add($"\"limits\":{{\"memory\":\"{memoryLimit}\",\"cpu\":\"100m\"}}");
        var json = """
            {"metadata":{"name":"NAME","namespace":"default","uid":"uid-NAME","annotations":ANNOTATIONS},
             "spec":{"priority":PRIORITY,"tolerations":TOLERATIONS,"containers":[{"name":"main","image":"busybox","resources":{RESOURCES}}]},
             "status":{"phase":"Running"}}
            """;
        return KubernetesJson.Deserialize<V1Pod>(json.Replace("NAME", name).Replace("ANNOTATIONS", annotations)
            .Replace("PRIORITY", priority.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Replace("TOLERATIONS", tolerations).Replace("RESOURCES", string.Join(",", resources)));
    }
}
