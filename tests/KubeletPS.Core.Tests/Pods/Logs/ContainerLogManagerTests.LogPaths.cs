using KubeletPS.Core.Pods.Logs;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Tests.Support.Fakes;

namespace KubeletPS.Core.Tests.Pods.Logs;

/// <summary>
/// The log manager asks CRI ContainerStatus for a container's log path once, while the container runs:
/// every later round only looks at the file (110 running containers cost 660 ContainerStatus calls a
/// minute before, one per container and round).
/// </summary>
public sealed partial class ContainerLogManagerTests
{
    private async Task RoundAsync(ContainerLogManager manager)
    {
        await manager.RotateLogsAsync();
        _time.Advance(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task LogPath_AskedOnce_AndTheFileStillLookedAtEveryRound()
    {
        var c = Container(bytes: 100);
        var manager = Manager();

        await RoundAsync(manager);
        await RoundAsync(manager);
        Assert.False(File.Exists(LogOf(c) + ".20261201-101020"));
        // Over MaxSize by the third round: the known path is measured anew and the log rotated.
        File.AppendAllText(LogOf(c), new string('y', 2048));
        await RoundAsync(manager);

        Assert.Equal(1, _runtime.Calls.Count("ContainerStatus"));
        Assert.Equal(3, _runtime.Calls.Count("ListContainers"));
        Assert.Equal(1, _runtime.Calls.Count("ReopenContainerLog"));
        Assert.True(File.Exists(LogOf(c) + ".20261201-101030"));
    }

    [Fact]
    public async Task NewContainer_OnlyItsStatusIsAsked()
    {
        Container(bytes: 100);
        var manager = Manager();
        await RoundAsync(manager);

        Container(bytes: 100);
        await RoundAsync(manager);
        await RoundAsync(manager);

        Assert.Equal(2, _runtime.Calls.Count("ContainerStatus"));
        Assert.Equal(2, manager.KnownLogPaths);
    }

    [Fact]
    public async Task StoppedAndRemovedContainers_AreForgotten()
    {
        var stopped = Container(bytes: 100);
        var removed = Container(bytes: 100);
        Container(bytes: 100);
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
        var c = Container();
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
