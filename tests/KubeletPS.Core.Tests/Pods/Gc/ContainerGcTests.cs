using KubeletPS.Core.Pods.Gc;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Tests.Support.Fakes;
using Microsoft.Extensions.Time.Testing;

namespace KubeletPS.Core.Tests.Pods.Gc;

/// <summary>The node-wide container collector carrying out its plan on the fake runtime and a temporary root and podLogsDir.</summary>
public sealed class ContainerGcTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kubeletps-gc-").FullName;
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly FakeRuntimeService _runtime;

    public ContainerGcTests() => _runtime = new FakeRuntimeService(_clock);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Logs => Path.Combine(_dir, "logs");
    private string Root => Path.Combine(_dir, "root");

    private ContainerGc Gc(IPodStateProvider pods) =>
        new(_runtime, pods, new ContainerGcPolicy(), NullKubeletLog.Instance, _clock) { PodLogsDirectory = Logs, RootDirectory = Root };

    private (FakeRuntimeService.FakeSandbox Sandbox, string LogDir) Pod(string uid, PodSandboxState state = PodSandboxState.Ready)
    {
        var logDir = Path.Combine(Logs, $"default_{uid}-name_{uid}");
        Directory.CreateDirectory(logDir);
        Directory.CreateDirectory(Path.Combine(Root, "pods", uid, "volumes"));
        var sandbox = _runtime.AddSandbox(new PodSandboxSpec { Name = uid + "-name", Namespace = "default", Uid = uid, LogDirectory = logDir }, state);
        return (sandbox, logDir);
    }

    private FakeRuntimeService.FakeContainer Dead(FakeRuntimeService.FakeSandbox sandbox, string name, uint attempt)
    {
        var logPath = Path.Combine(name, $"{attempt}.log");
        var file = Path.Combine(sandbox.Spec.LogDirectory!, logPath);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, "log\n");
        File.WriteAllText(file + ".20260101-000000.gz", "rotated\n");
        _clock.Advance(TimeSpan.FromSeconds(1));
        return _runtime.AddContainer(sandbox.Id, new ContainerSpec
        {
            Name = name, Attempt = attempt, Image = "busybox", LogPath = logPath,
            Labels = new Dictionary<string, string> { [KubeletLabels.PodUid] = sandbox.Spec.Uid, [KubeletLabels.ContainerName] = name },
        }, ContainerState.Exited);
    }

    [Fact]
    public async Task A_live_pod_keeps_its_newest_dead_instance_and_the_older_ones_go_with_their_log_files()
    {
        var (sandbox, logDir) = Pod("live");
        var old = Dead(sandbox, "main", 0);
        var newer = Dead(sandbox, "main", 1);

        var removals = await Gc(new ContainerGcPlanTests.PodStates(true, "live")).GarbageCollectAsync(GcMode.Remove, default);

        var removal = Assert.Single(removals);
        Assert.Equal((GcObjectKind.Container, old.Id, true), (removal.Kind, removal.Id, removal.Removed));
        Assert.Equal([newer.Id], _runtime.Containers.Select(c => c.Id));
        Assert.Equal(["1.log", "1.log.20260101-000000.gz"], Directory.GetFiles(Path.Combine(logDir, "main")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.True(Directory.Exists(Path.Combine(Root, "pods", "live")));
    }

    [Fact]
    public async Task A_gone_pods_containers_sandbox_log_directory_and_pod_directory_are_removed_once_the_sources_are_ready()
    {
        var (sandbox, logDir) = Pod("gone", PodSandboxState.NotReady);
        Dead(sandbox, "main", 0);
        Directory.CreateDirectory(Path.Combine(Logs, "default_orphan_orphan-uid"));
        Directory.CreateDirectory(Path.Combine(Root, "pods", "orphan-uid"));

        var before = await Gc(new ContainerGcPlanTests.PodStates(false)).GarbageCollectAsync(GcMode.Remove, default);
        Assert.Empty(before);
        Assert.True(Directory.Exists(logDir));

        var removals = await Gc(new ContainerGcPlanTests.PodStates(true)).GarbageCollectAsync(GcMode.Remove, default);

        Assert.Equal(
            [GcObjectKind.Container, GcObjectKind.Sandbox, GcObjectKind.PodLogDirectory, GcObjectKind.PodLogDirectory, GcObjectKind.PodDirectory, GcObjectKind.PodDirectory],
            removals.Select(r => r.Kind).Order());
        Assert.All(removals, r => Assert.True(r.Removed, r.Error));
        Assert.Empty(_runtime.Sandboxes);
        Assert.Empty(Directory.GetDirectories(Logs));
        Assert.Empty(Directory.GetDirectories(Path.Combine(Root, "pods")));
        Assert.Equal(1, _runtime.Calls.Count("StopPodSandbox"));
    }

    [Fact]
    public async Task A_gone_pod_whose_sandbox_is_still_ready_keeps_it_and_its_directories()
    {
        var (_, logDir) = Pod("stopping");
        var removals = await Gc(new ContainerGcPlanTests.PodStates(true)).GarbageCollectAsync(GcMode.Remove, default);
        Assert.Empty(removals);
        Assert.True(Directory.Exists(logDir));
        Assert.Single(_runtime.Sandboxes);
    }

    [Fact]
    public async Task A_dry_run_lists_the_same_removals_and_removes_nothing()
    {
        var (sandbox, logDir) = Pod("gone", PodSandboxState.NotReady);
        Dead(sandbox, "main", 0);

        var removals = await Gc(new ContainerGcPlanTests.PodStates(true)).GarbageCollectAsync(GcMode.DryRun, default);

        Assert.Equal(4, removals.Count);
        Assert.All(removals, r => Assert.False(r.Removed));
        Assert.Single(_runtime.Containers);
        Assert.Single(_runtime.Sandboxes);
        Assert.True(Directory.Exists(logDir));
        Assert.Equal(0, _runtime.Calls.Count("RemoveContainer") + _runtime.Calls.Count("RemovePodSandbox") + _runtime.Calls.Count("StopPodSandbox"));
    }

    [Fact]
    public async Task DeleteAllUnusedContainers_ignores_the_minimum_age()
    {
        var (sandbox, _) = Pod("live");
        Dead(sandbox, "main", 0);
        Dead(sandbox, "main", 1);
        var gc = new ContainerGc(_runtime, new ContainerGcPlanTests.PodStates(true, "live"), new ContainerGcPolicy { MinAge = TimeSpan.FromHours(1) }, NullKubeletLog.Instance, _clock);

        Assert.Empty(await gc.GarbageCollectAsync(GcMode.Remove, default));
        await gc.DeleteAllUnusedContainersAsync(default);
        Assert.Single(_runtime.Containers);
    }
}
