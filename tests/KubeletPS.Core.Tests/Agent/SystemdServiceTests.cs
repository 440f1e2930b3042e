using KubeletPS.Core.Agent;

namespace KubeletPS.Core.Tests.Agent;

public sealed class SystemdServiceTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kps-units-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private SystemdServiceRequest Request(string? node = "node1") => new()
    {
        PwshPath = "/opt/microsoft/powershell/7/pwsh",
        ModuleManifestPath = "/usr/local/share/powershell/Modules/KubeletPS/0.1.0/KubeletPS.psd1",
        KubeconfigPath = "/etc/kubernetes/kubelet.conf",
        NodeName = node,
        UnitDirectory = _dir,
    };

    [Fact]
    public void The_unit_runs_StartKubeletAgent_after_containerd_and_restarts_always()
    {
        var unit = SystemdService.Render(Request());
        Assert.Contains("\nAfter=network-online.target containerd.service\n", unit);
        Assert.Contains("\nRestart=always\nRestartSec=10\n", unit);
        Assert.Contains("\nKillSignal=SIGTERM\n", unit);
        // The runtime settings that keep the agent's CPU low while pods start (see the benchmarks in README).
        Assert.Contains("\nEnvironment=DOTNET_TieredPGO=0\nEnvironment=DOTNET_TC_CallCountingDelayMs=5000\nEnvironment=DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0\n", unit);
        // And the one that keeps its memory close to its heap (README, the agent's memory).
        Assert.Contains("\nEnvironment=DOTNET_GCgen0size=0x400000\n", unit);
        Assert.Contains("\nWantedBy=multi-user.target\n", unit);
        Assert.Contains("\nExecStart=\"/opt/microsoft/powershell/7/pwsh\" -NoLogo -NoProfile -NonInteractive -Command " +
            "\"Import-Module '/usr/local/share/powershell/Modules/KubeletPS/0.1.0/KubeletPS.psd1'; Start-KubeletAgent -KubeconfigPath '/etc/kubernetes/kubelet.conf' -NodeName 'node1' -Verbose\"\n", unit);
    }

    [Fact]
    public void Quotes_are_escaped_for_PowerShell_and_systemd()
    {
        var request = Request() with { ConfigPath = "/srv/it's \"odd\" $HOME 100%.yaml" };
        var exec = SystemdService.ExecStart(request);
        // PowerShell: ' doubled inside '…'; systemd: " and \ escaped, $ and % doubled.
        Assert.Contains("-ConfigPath '/srv/it''s \\\"odd\\\" $$HOME 100%%.yaml'", exec);
    }

    [Theory]
    [InlineData("kubelet ps", "Name")]
    [InlineData("kubeletps.service", "Name")]
    [InlineData("a/b", "Name")]
    public void A_bad_unit_name_is_refused(string name, string field)
    {
        var e = Assert.Throws<KubeletException>(() => SystemdService.Render(Request() with { Name = name }));
        Assert.Equal(KubeletErrorKind.InvalidArgument, e.Category);
        Assert.Equal(field, e.Target);
    }

    [Fact]
    public void Relative_paths_and_line_breaks_are_refused()
    {
        Assert.Equal("KubeconfigPath", Assert.Throws<KubeletException>(() => SystemdService.Render(Request() with { KubeconfigPath = "kubelet.conf" })).Target);
        Assert.Equal("NodeName", Assert.Throws<KubeletException>(() => SystemdService.Render(Request("node1\nExecStartPre=/bin/sh"))).Target);
    }

    [Fact]
    public void Writes_the_unit_once_and_refuses_to_replace_another_without_force()
    {
        Assert.True(SystemdService.WriteUnit(Request(), force: false));
        var path = Path.Combine(_dir, "kubeletps.service");
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(path));
        Assert.False(SystemdService.WriteUnit(Request(), force: false));

        var e = Assert.Throws<KubeletException>(() => SystemdService.WriteUnit(Request("node2"), force: false));
        Assert.Equal(KubeletErrorKind.Conflict, e.Category);
        Assert.Equal(path, e.Target);
        Assert.Contains("-NodeName 'node1'", File.ReadAllText(path));

        Assert.True(SystemdService.WriteUnit(Request("node2"), force: true));
        Assert.Contains("-NodeName 'node2'", File.ReadAllText(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Theory]
    [InlineData("/usr/share/dotnet/dotnet", "/usr/share/dotnet")]
    [InlineData("/opt/microsoft/powershell/7/pwsh", null)]
    [InlineData(null, null)]
    public void A_dotnet_hosted_pwsh_gets_dotnet_root(string? processPath, string? expected)
    {
        Assert.Equal(expected, SystemdService.DotnetRootFor(processPath));
        if (expected is not null)
            Assert.Contains($"\nEnvironment=\"DOTNET_ROOT={expected}\"\n", SystemdService.Render(Request() with { DotnetRoot = expected }));
    }
}
