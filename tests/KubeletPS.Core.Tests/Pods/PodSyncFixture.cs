using System.Collections.Concurrent;
using k8s.Models;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Remote;
using KubeletPS.TestCluster.Runtime;

namespace KubeletPS.Core.Tests.Pods;

/// <summary>A private containerd of the pod sync tests' own (their housekeeping would remove other tests' pods).</summary>
public sealed class PodSyncFixture : IAsyncLifetime
{
    private PrivateContainerd? _containerd;
    private CriRuntimeClient? _client;

    public PrivateContainerd Containerd => _containerd ?? throw new InvalidOperationException("containerd not started");
    public CriRuntimeClient Client => _client ?? throw new InvalidOperationException("containerd not started");

    public async Task InitializeAsync()
    {
        var dir = Path.Combine("/tmp", "kpp-" + Guid.NewGuid().ToString("N")[..8]);
        _containerd = await PrivateContainerd.StartAsync(dir, new PrivateContainerdOptions { DeleteBaseDirectoryOnDispose = true });
        _client = _containerd.CreateClient(TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        if (_containerd is not null) await _containerd.DisposeAsync();
    }

    /// <summary>A running agent on a fresh static pod folder and root directory.</summary>
    public AgentHarness NewAgent(string? manifests = null, string? root = null, bool stopPodsOnExit = true, TimeSpan? backOffBase = null, TimeSpan? backOffMax = null,
        int? maxParallelSandboxCreations = null, Func<PodSyncAgentOptions, PodSyncAgentOptions>? options = null)
    {
        var baseDir = Path.Combine(Containerd.BaseDir, "agents", Guid.NewGuid().ToString("N")[..8]);
        var harness = new AgentHarness(this, manifests ?? Path.Combine(baseDir, "manifests"), root ?? Path.Combine(baseDir, "root"), stopPodsOnExit, backOffBase, backOffMax,
            maxParallelSandboxCreations ?? KubeGenericRuntimeManager.DefaultParallelSandboxCreations, options);
        harness.Start();
        return harness;
    }

    public static async Task<T> WaitForAsync<T>(Func<T> probe, Func<T, bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var value = probe();
            if (condition(value)) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting for {what}; last value: {Describe(value)}");
            await Task.Delay(100);
        }
    }

    public static async Task<T> WaitForAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var value = await probe();
            if (condition(value)) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting for {what}; last value: {Describe(value)}");
            await Task.Delay(100);
        }
    }

    private static string Describe(object? value) => value switch
    {
        V1Pod pod => k8s.KubernetesJson.Serialize(pod.Status),
        null => "null",
        _ => value.ToString() ?? "",
    };
}

[CollectionDefinition(Name)]
public sealed class PodSyncCollection : ICollectionFixture<PodSyncFixture>
{
    public const string Name = "Pod sync on a private containerd";
}

/// <summary>One PodSyncAgent running in the background with its folders, plus helpers to write manifests and read status.</summary>
public sealed class AgentHarness : IAsyncDisposable
{
    public const string NodeName = "node1";
    private readonly PodSyncFixture _fixture;
    private readonly CancellationTokenSource _stop = new();
    private Task? _run;

    public AgentHarness(PodSyncFixture fixture, string manifests, string root, bool stopPodsOnExit, TimeSpan? backOffBase, TimeSpan? backOffMax, int maxParallelSandboxCreations,
        Func<PodSyncAgentOptions, PodSyncAgentOptions>? options = null)
    {
        _fixture = fixture;
        ManifestDirectory = manifests;
        RootDirectory = root;
        Directory.CreateDirectory(manifests);
        var agentOptions = new PodSyncAgentOptions
        {
            NodeName = NodeName,
            StaticPodPath = manifests,
            RuntimeEndpoint = fixture.Containerd.Endpoint,
            RuntimeRequestTimeout = TimeSpan.FromSeconds(30),
            RootDirectory = root,
            PodLogsDirectory = fixture.Containerd.PodLogsDir,
            FileCheckFrequency = TimeSpan.FromSeconds(1),
            SyncFrequency = TimeSpan.FromSeconds(10),
            RelistPeriod = TimeSpan.FromMilliseconds(500),
            ClusterDns = ["10.96.0.10"],
            ClusterDomain = "cluster.local",
            StopPodsOnExit = stopPodsOnExit,
            CrashLoopBackOffBase = backOffBase ?? TimeSpan.FromSeconds(1),
            CrashLoopBackOffMax = backOffMax ?? TimeSpan.FromSeconds(8),
            MaxParallelSandboxCreations = maxParallelSandboxCreations,
            Log = Log,
            Events = Events,
        };
        Agent = new PodSyncAgent(options is null ? agentOptions : options(agentOptions));
    }

    public PodSyncAgent Agent { get; }
    public string ManifestDirectory { get; }
    public string RootDirectory { get; }
    public RecordingLog Log { get; } = new();
    public RecordingEvents Events { get; } = new();
    public CriRuntimeClient Client => _fixture.Client;

    public void Start() => _run = Task.Run(() => Agent.RunAsync(_stop.Token));

    public string Write(string fileName, string yaml)
    {
        var path = Path.Combine(ManifestDirectory, fileName);
        File.WriteAllText(path + ".tmp", yaml);
        File.Move(path + ".tmp", path, overwrite: true);
        return path;
    }

    public void Remove(string fileName) => File.Delete(Path.Combine(ManifestDirectory, fileName));

    /// <summary>The agent's view of the pod named NAME (the static pod is NAME-node1).</summary>
    public V1Pod? Pod(string name) => Agent.Pods.FirstOrDefault(p => p.Metadata.Name == $"{name}-{NodeName}");

    public Task<V1Pod> WaitForPodAsync(string name, Func<V1Pod, bool> condition, string what, TimeSpan? timeout = null)
        => PodSyncFixture.WaitForAsync(() => Pod(name), p => p is not null && condition(p), $"pod {name}: {what}", timeout)!;

    public Task<V1Pod> WaitForRunningAsync(string name, TimeSpan? timeout = null)
        => WaitForPodAsync(name, p => p.Status?.Phase == "Running" && p.Status.ContainerStatuses.All(c => c.State?.Running is not null), "Running", timeout);

    /// <summary>The runtime's containers of a pod (by kubelet's uid label).</summary>
    public async Task<IReadOnlyList<ContainerInfo>> ContainersAsync(string uid)
        => await Client.ListContainersAsync(new ContainerFilter { LabelSelector = new Dictionary<string, string> { [KubeletLabels.PodUid] = uid } });

    public async Task<IReadOnlyList<PodSandboxInfo>> SandboxesAsync(string uid)
        => await Client.ListPodSandboxesAsync(new PodSandboxFilter { LabelSelector = new Dictionary<string, string> { [KubeletLabels.PodUid] = uid } });

    public async Task StopAsync()
    {
        if (_run is null) return;
        await _stop.CancelAsync();
        await _run;
        _run = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await Agent.DisposeAsync();
        _stop.Dispose();
    }
}

/// <summary>The events the agent recorded, in order.</summary>
public sealed class RecordingEvents : IEventRecorder
{
    public ConcurrentQueue<(V1ObjectReference InvolvedObject, string Type, string Reason, string Message)> Recorded { get; } = new();
    public void Event(V1ObjectReference involvedObject, string type, string reason, string message) => Recorded.Enqueue((involvedObject, type, reason, message));
    public IReadOnlyList<(V1ObjectReference InvolvedObject, string Type, string Reason, string Message)> WithReason(string reason) => Recorded.Where(e => e.Reason == reason).ToList();
}

public sealed class RecordingLog : IKubeletLog
{
    public ConcurrentQueue<(KubeletLogLevel Level, string Message)> Lines { get; } = new();
    public void Write(KubeletLogLevel level, string message) => Lines.Enqueue((level, message));
    public IEnumerable<string> Warnings => Lines.Where(l => l.Level >= KubeletLogLevel.Warning).Select(l => l.Message);
    public override string ToString() => string.Join("\n", Lines.Select(l => $"{l.Level}: {l.Message}"));
}
