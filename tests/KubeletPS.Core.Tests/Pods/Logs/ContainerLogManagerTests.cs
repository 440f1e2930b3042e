using System.IO.Compression;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Pods.Logs;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Tests.Support;
using KubeletPS.Core.Tests.Support.Fakes;
using Microsoft.Extensions.Time.Testing;

namespace KubeletPS.Core.Tests.Pods.Logs;

/// <summary>The log manager over a temporary pod log directory, a fake runtime and a fake clock at 2026-12-01 10:10:10.</summary>
public sealed partial class ContainerLogManagerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kps-logrotate-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 10, 10, 10, TimeSpan.Zero));
    private readonly FakeRuntimeService _runtime;
    private readonly ListLog _log = new();

    public ContainerLogManagerTests()
    {
        _runtime = new FakeRuntimeService(_time);
        // As containerd: a reopen creates the log file anew.
        _runtime.OnReopenContainerLog = c => File.AppendAllText(LogOf(c), "");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string LogOf(FakeRuntimeService.FakeContainer c) => Path.Combine(_root, c.SandboxId, c.Spec.LogPath!);

    private FakeRuntimeService.FakeContainer Container(ContainerState state = ContainerState.Running, int bytes = 2048)
    {
        var sandbox = _runtime.AddSandbox(new PodSandboxSpec { Name = "chatty", Namespace = "default", Uid = "uid-1", LogDirectory = null });
        var container = _runtime.AddContainer(sandbox.Id, new ContainerSpec { Name = "main", Image = "busybox", LogPath = Path.Combine(_root, sandbox.Id, "main", "0.log") }, state);
        Directory.CreateDirectory(Path.GetDirectoryName(LogOf(container))!);
        File.WriteAllText(LogOf(container), new string('x', bytes));
        return container;
    }

    private ContainerLogManager Manager(int maxFiles = 5, long maxSize = 1024)
        => new(_runtime, new ContainerLogRotationPolicy { MaxSize = maxSize, MaxFiles = maxFiles }, _log, _time);

    private static string[] Files(string log) => Directory.GetFileSystemEntries(Path.GetDirectoryName(log)!).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    public static TheoryData<string[], int, string[], string[]> Plans => new()
    {
        // rotated files present, MaxFiles → removed, compressed
        { [], 5, [], [] },
        { ["0.log.20261201-100000"], 5, [], ["0.log.20261201-100000"] },
        { ["0.log.20261201-100000.gz", "0.log.20261201-100100"], 3, ["0.log.20261201-100000.gz"], ["0.log.20261201-100100"] },
        { ["0.log.20261201-100000.gz", "0.log.20261201-100100.gz", "0.log.20261201-100200"], 5, [], ["0.log.20261201-100200"] },
        // MaxFiles 2: only the current and the one rotated now remain.
        { ["0.log.20261201-100000.gz", "0.log.20261201-100100"], 2, ["0.log.20261201-100000.gz", "0.log.20261201-100100"], [] },
        // A compression interrupted after its rename: the plain file and the .tmp are unused.
        { ["0.log.20261201-100000", "0.log.20261201-100000.gz", "0.log.20261201-100100.gz.tmp"], 5, ["0.log.20261201-100000", "0.log.20261201-100100.gz.tmp"], [] },
        // Oldest first beyond MaxFiles − 2.
        { ["0.log.20261201-100300", "0.log.20261201-100000.gz", "0.log.20261201-100200.gz", "0.log.20261201-100100.gz"], 4, ["0.log.20261201-100000.gz", "0.log.20261201-100100.gz"], ["0.log.20261201-100300"] },
    };

    [Theory]
    [MemberData(nameof(Plans))]
    public void Decide_RemovesUnusedAndExcess_CompressesTheRest(string[] rotated, int maxFiles, string[] remove, string[] compress)
    {
        var plan = ContainerLogRotationPlan.Decide(rotated, maxFiles);

        Assert.Equal(remove, plan.Remove);
        Assert.Equal(compress, plan.Compress);
    }

    [Fact]
    public async Task Rotate_LogOverMaxSize_RenamedWithTimestamp_ReopenedAndPreviousCompressed()
    {
        var c = Container();
        var log = LogOf(c);
        File.WriteAllText(log + ".20261201-100000", "older rotated\n");

        await Manager().RotateLogsAsync();

        Assert.Equal(["0.log", "0.log.20261201-100000.gz", "0.log.20261201-101010"], Files(log));
        Assert.Equal(new string('x', 2048), File.ReadAllText(log + ".20261201-101010"));
        Assert.Equal(0, new FileInfo(log).Length);
        await using var gz = new GZipStream(File.OpenRead(log + ".20261201-100000.gz"), CompressionMode.Decompress);
        Assert.Equal("older rotated\n", await new StreamReader(gz).ReadToEndAsync());
        Assert.Equal(1, _runtime.Calls.Count("ReopenContainerLog"));
    }

    [Fact]
    public async Task Rotate_UnderMaxSize_NothingHappens()
    {
        var c = Container(bytes: 1023);

        await Manager().RotateLogsAsync();

        Assert.Equal(["0.log"], Files(LogOf(c)));
        Assert.Equal(0, _runtime.Calls.Count("ReopenContainerLog"));
    }

    [Theory]
    [InlineData(ContainerState.Exited)]
    [InlineData(ContainerState.Created)]
    public async Task Rotate_OnlyRunningContainers(ContainerState state)
    {
        var c = Container(state);

        await Manager().RotateLogsAsync();

        Assert.Equal(["0.log"], Files(LogOf(c)));
        Assert.Equal(0, _runtime.Calls.Count("ContainerStatus"));
    }

    [Fact]
    public async Task Rotate_ReopenFails_RenamedBack_AndRotatedNextRound()
    {
        var c = Container();
        var log = LogOf(c);
        _runtime.Calls.InjectError("ReopenContainerLog", FakeCriCalls.Error("ReopenContainerLog", RuntimeErrorKind.RuntimeError, "shim is gone"));

        await Manager().RotateLogsAsync();

        Assert.Equal(["0.log"], Files(log));
        Assert.Equal(2048, new FileInfo(log).Length);
        Assert.Contains(_log.Lines, l => l.Contains("failed to reopen container log", StringComparison.Ordinal) && l.Contains("shim is gone", StringComparison.Ordinal));

        _time.Advance(TimeSpan.FromSeconds(10));
        await Manager().RotateLogsAsync();
        Assert.Equal(["0.log", "0.log.20261201-101020"], Files(log));
    }

    [Fact]
    public async Task Rotate_KeepsAtMostMaxFiles_OverManyRounds()
    {
        var c = Container();
        var log = LogOf(c);
        var manager = Manager(maxFiles: 3);

        for (var round = 0; round < 6; round++)
        {
            File.AppendAllText(log, new string('y', 2048));
            await manager.RotateLogsAsync();
            _time.Advance(TimeSpan.FromSeconds(10));
            var files = Files(log);
            Assert.True(files.Length <= 3, string.Join(", ", files));
        }

        // The current file, one compressed and the latest rotated left plain.
        Assert.Equal(["0.log", "0.log.20261201-101050.gz", "0.log.20261201-101100"], Files(log));
    }

    [Fact]
    public async Task Rotate_MissingLog_AsksTheRuntimeToReopen()
    {
        var c = Container();
        File.Delete(LogOf(c));

        await Manager().RotateLogsAsync();

        Assert.Equal(1, _runtime.Calls.Count("ReopenContainerLog"));
        Assert.True(File.Exists(LogOf(c)));
    }

    [Fact]
    public async Task Attack_RotatedSymlinkToASecret_IsRemovedNotCompressed()
    {
        var c = Container();
        var log = LogOf(c);
        var secret = Path.Combine(_root, "shadow");
        File.WriteAllText(secret, "root:$6$secret-hash:19000:0:99999:7:::\n");
        File.CreateSymbolicLink(log + ".20261201-100000", secret);

        await Manager().RotateLogsAsync();

        Assert.Equal(["0.log", "0.log.20261201-101010"], Files(log));
        Assert.Equal("root:$6$secret-hash:19000:0:99999:7:::\n", File.ReadAllText(secret));
        Assert.Contains(_log.Lines, l => l.Contains("is a symbolic link", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rotate_WorkersShareTheContainers()
    {
        var containers = Enumerable.Range(0, 4).Select(_ => Container()).ToList();
        _runtime.Calls.SetDelay("ReopenContainerLog", TimeSpan.FromMilliseconds(50));
        var manager = new ContainerLogManager(_runtime, new ContainerLogRotationPolicy { MaxSize = 1024, MaxWorkers = 2 }, _log, TimeProvider.System);

        await manager.RotateLogsAsync();

        Assert.All(containers, c => Assert.Equal(2, Files(LogOf(c)).Length));
        Assert.InRange(_runtime.Operations.Snapshot().Single(o => o.Operation == "ReopenContainerLog").MaxInFlight, 1, 2);
    }

    [Theory]
    [InlineData("containerLogMaxFiles", "invalid configuration: containerLogMaxFiles must be greater than 1")]
    [InlineData("containerLogMaxWorkers", "invalid configuration: containerLogMaxWorkers must be greater than or equal to 1")]
    [InlineData("containerLogMonitorInterval", "invalid configuration: containerLogMonitorInterval must be a positive time duration greater than or equal to 3s")]
    [InlineData("containerLogMaxSize", "failed to parse container log max size \"ten megs\"")]
    public void Policy_FromConfiguration_RefusesWhatKubeletRefuses_NamingTheField(string field, string message)
    {
        var configuration = new KubeletConfiguration();
        switch (field)
        {
            case "containerLogMaxFiles": configuration.ContainerLogMaxFiles = 1; break;
            case "containerLogMaxWorkers": configuration.ContainerLogMaxWorkers = 0; break;
            case "containerLogMonitorInterval": configuration.ContainerLogMonitorInterval = TimeSpan.FromSeconds(1); break;
            default: configuration.ContainerLogMaxSize = "ten megs"; break;
        }

        var e = Assert.Throws<KubeletException>(() => ContainerLogRotationPolicy.FromConfiguration(configuration));

        Assert.Equal(field, e.Target);
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Policy_FromConfiguration_DefaultsAndNegativeSizeDisables()
    {
        Assert.Equal(new ContainerLogRotationPolicy(), ContainerLogRotationPolicy.FromConfiguration(new KubeletConfiguration()));
        Assert.Equal(50L << 20, ContainerLogRotationPolicy.FromConfiguration(new KubeletConfiguration { ContainerLogMaxSize = "50Mi" })!.MaxSize);
        Assert.Null(ContainerLogRotationPolicy.FromConfiguration(new KubeletConfiguration { ContainerLogMaxSize = "-1" }));
        Assert.Throws<KubeletException>(() => new ContainerLogManager(_runtime, new ContainerLogRotationPolicy { MaxFiles = 1 }, _log, _time));
    }
}
