using System.Diagnostics;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Remote;
using KubeletPS.TestCluster.Runtime;

namespace KubeletPS.Core.Tests.Runtime;

/// <summary>One private containerd (with busybox and pause imported) shared by all runtime tests.</summary>
public sealed class ContainerdFixture : IAsyncLifetime
{
    private PrivateContainerd? _containerd;
    private CriRuntimeClient? _client;

    public PrivateContainerd Containerd => _containerd ?? throw new InvalidOperationException("containerd not started");
    public CriRuntimeClient Client => _client ?? throw new InvalidOperationException("containerd not started");
    public TimeSpan StartDuration { get; private set; }

    public async Task InitializeAsync()
    {
        var started = Stopwatch.StartNew();
        // Short path: unix socket paths are limited to 108 bytes.
        var dir = Path.Combine("/tmp", "kps-" + Guid.NewGuid().ToString("N")[..8]);
        _containerd = await PrivateContainerd.StartAsync(dir, new PrivateContainerdOptions { DeleteBaseDirectoryOnDispose = true });
        _client = _containerd.CreateClient(TimeSpan.FromSeconds(30));
        StartDuration = started.Elapsed;
    }

    public async Task DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }

        if (_containerd is not null)
        {
            await _containerd.DisposeAsync();
        }
    }

    /// <summary>A pod spec the way the kubelet fills it, with a unique name and uid.</summary>
    public PodSandboxSpec NewPod(string prefix, bool hostNetwork = false, IReadOnlyDictionary<string, string>? labels = null)
    {
        var uid = Guid.NewGuid().ToString();
        var name = $"{prefix}-{uid[..6]}";
        return new PodSandboxSpec
        {
            Name = name,
            Namespace = "default",
            Uid = uid,
            Hostname = hostNetwork ? null : name,
            HostNetwork = hostNetwork,
            LogDirectory = PodSandboxSpec.DefaultLogDirectory(Containerd.PodLogsDir, "default", name, uid),
            Labels = labels ?? new Dictionary<string, string> { ["io.kubernetes.pod.name"] = name, ["io.kubernetes.pod.uid"] = uid },
            Annotations = new Dictionary<string, string> { ["kubeletps.test/owner"] = "runtime-tests" },
            Dns = new DnsSpec(["10.96.0.10"], ["default.svc.cluster.local"], ["ndots:5"]),
        };
    }

    public ContainerSpec NewContainer(string name, params string[] command) => new()
    {
        Name = name,
        Image = Containerd.BusyboxImage,
        Command = command,
        LogPath = ContainerSpec.DefaultLogPath(name, 0),
        Labels = new Dictionary<string, string> { ["io.kubernetes.container.name"] = name },
    };

    /// <summary>Stops and removes a sandbox (and its containers); for finally blocks.</summary>
    public async Task RemovePodAsync(string? sandboxId)
    {
        if (sandboxId is null)
        {
            return;
        }

        await Client.StopPodSandboxAsync(sandboxId);
        await Client.RemovePodSandboxAsync(sandboxId);
    }

    /// <summary>Polls until <paramref name="condition"/> holds; state changes are asynchronous in a runtime.</summary>
    public static async Task<T> WaitForAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            var value = await probe();
            if (condition(value))
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}; last value: {value}");
            }

            await Task.Delay(50);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ContainerdCollection : ICollectionFixture<ContainerdFixture>
{
    public const string Name = "Private containerd";
}
