using KubeletPS.Core.Pods.Logs;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Tests.Support;
using KubeletPS.Core.Tests.Support.Fakes;
using Microsoft.Extensions.Time.Testing;

namespace KubeletPS.Core.Tests.Pods.Logs;

/// <summary>
/// The log manager asks CRI ContainerStatus for a container's log path once, while the container runs:
/// every later round only looks at the file (110 running containers cost 660 ContainerStatus calls a
/// minute before, one per container and round).
/// </summary>
public sealed class ContainerLogPathCacheTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kps-logpaths-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 10, 10, 10, TimeSpan.Zero));
    private readonly FakeRuntimeService _runtime;
    private readonly ListLog _log = new();

    public ContainerLogPathCacheTests()
    {
        _runtime = new FakeRuntimeService(_time);
        _runtime.OnReopenContainerLog = c => File.AppendAllText(c.Spec.LogPath!, "");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private FakeRuntimeService.FakeContainer Container(string name, int bytes = 100)
    {
        var sandbox = _runtime.AddSandbox(new PodSandboxSpec { Name = name, Namespace = "default", Uid = "uid-" + name, LogDirectory = null });
        var log = Path.Combine(_root, sandbox.Id, "main", "0.log");
        Directory.CreateDirectory(Path.GetDirectoryName(log)!);
        File.WriteAllText(log, new string('x', bytes));
        return _runtime.AddContainer(sandbox.Id, new ContainerSpec { Name = "main", Image = "busybox", LogPath = log }, ContainerState.Running);
    }

    private ContainerLogManager Manager() => new(_runtime, new ContainerLogRotationPolicy { MaxSize = 1024, MaxFiles = 5 }, _log, _time);

    private async Task RoundAsync(ContainerLogManager manager)
    {
        await manager.RotateLogsAsync();
        _time.Advance(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task LogPath_AskedOnce_AndTheFileStillLookedAtEveryRound()
    {
        var c = Container("chatty");
        var manager = Manager();

        await RoundAsync(manager);
        await RoundAsync(manager);
        Assert.False(File.Exists(c.Spec.LogPath + ".20261201-101020"));
        // Over MaxSize by the third round: the known path is measured anew and the log rotated.
        File.AppendAllText(c.Spec.LogPath!, new string('y', 2048));
        await RoundAsync(manager);

        Assert.Equal(1, _runtime.Calls.Count("ContainerStatus"));
        Assert.Equal(3, _runtime.Calls.Count("ListContainers"));
        Assert.Equal(1, _runtime.Calls.Count("ReopenContainerLog"));
        Assert.True(File.Exists(c.Spec.LogPath + ".20261201-101030"));
    }

    [Fact]
    public async Task NewContainer_OnlyItsStatusIsAsked()
    {
        Container("first");
        var manager = Manager();
        await RoundAsync(manager);

        Container("second");
        await RoundAsync(manager);
        await RoundAsync(manager);

        Assert.Equal(2, _runtime.Calls.Count("ContainerStatus"));
        Assert.Equal(2, manager.KnownLogPaths);
    }

    [Fact]
    public async Task StoppedAndRemovedContainers_AreForgotten()
    {
        var stopped = Container("stopped");
        var removed = Container("removed");
        Container("stays");
        var manager = Manager();
        await RoundAsync(manager);
        Assert.Equal(3, manager.KnownLogPaths);

        _runtime.ExitContainer(stopped.Id, 0);
        await _runtime.RemoveContainerAsync(removed.Id);
        await RoundAsync(manager);

        Assert.Equal(1, manager.KnownLogPaths);
        Assert.Equal(3, _runtime.Calls.Count("ContainerStatus"));
    }

    [Fact]
    public async Task FailedStatus_IsNotKept_AndAskedAgainNextRound()
    {
        var c = Container("flaky", bytes: 2048);
        _runtime.Calls.InjectError("ContainerStatus", FakeCriCalls.Error("ContainerStatus", RuntimeErrorKind.RuntimeError, "shim busy"));
        var manager = Manager();

        await RoundAsync(manager);
        Assert.Equal(0, manager.KnownLogPaths);
        Assert.Contains(_log.Lines, l => l.Contains("failed to get container status of " + c.Id, StringComparison.Ordinal));

        await RoundAsync(manager);
        Assert.Equal(2, _runtime.Calls.Count("ContainerStatus"));
        Assert.Equal(1, _runtime.Calls.Count("ReopenContainerLog"));
    }
}
