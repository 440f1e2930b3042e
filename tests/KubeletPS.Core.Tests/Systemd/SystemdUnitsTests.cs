using KubeletPS.Core.Systemd;

namespace KubeletPS.Core.Tests.Systemd;

public sealed class SystemdUnitsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kps-units-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // systemctl show --timestamp=unix -p … dbus.service nope.service, as systemd 252 prints it (properties in its own order).
    private const string ShowOutput = """
        MainPID=29
        ExecStart={ path=/usr/bin/dbus-daemon ; argv[]=/usr/bin/dbus-daemon --system --address=systemd: --nofork ; ignore_errors=no ; start_time=[@1796127180] ; stop_time=[n/a] ; pid=29 ; code=(null) ; status=0/0 }
        Id=dbus.service
        Description=D-Bus System Message Bus
        LoadState=loaded
        ActiveState=active
        SubState=running
        FragmentPath=/lib/systemd/system/dbus.service
        DropInPaths=/etc/systemd/system/dbus.service.d/a.conf /etc/systemd/system/dbus.service.d/b.conf
        UnitFileState=static
        ActiveEnterTimestamp=@1796127180

        MainPID=0
        Id=nope.service
        Description=nope.service
        LoadState=not-found
        ActiveState=inactive
        SubState=dead
        FragmentPath=
        DropInPaths=
        UnitFileState=
        ActiveEnterTimestamp=

        """;

    [Fact]
    public void Show_blocks_become_one_status_per_unit_in_order()
    {
        var units = SystemdUnits.ParseShow(ShowOutput);
        Assert.Equal(2, units.Count);
        var dbus = units[0];
        Assert.Equal("dbus.service", dbus.Name);
        Assert.Equal("D-Bus System Message Bus", dbus.Description);
        Assert.Equal("loaded", dbus.LoadState);
        Assert.Equal("static", dbus.UnitFileState);
        Assert.Equal("active", dbus.ActiveState);
        Assert.Equal("running", dbus.SubState);
        Assert.Equal(29, dbus.MainPid);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1796127180), dbus.Since);
        Assert.Equal("/lib/systemd/system/dbus.service", dbus.FragmentPath);
        Assert.Equal(["/etc/systemd/system/dbus.service.d/a.conf", "/etc/systemd/system/dbus.service.d/b.conf"], dbus.DropInPaths);
        Assert.Null(dbus.Agent);

        var nope = units[1];
        Assert.Equal("not-found", nope.LoadState);
        Assert.Equal(0, nope.MainPid);
        Assert.Null(nope.Since);
        Assert.Empty(nope.DropInPaths);
    }

    [Fact]
    public void The_agent_unit_says_which_module_version_and_files_it_runs()
    {
        var manifest = Path.Combine(_dir, "Kubelet PS's", "KubeletPS.psd1");
        Directory.CreateDirectory(Path.GetDirectoryName(manifest)!);
        File.WriteAllText(manifest, "@{\n    RootModule = 'KubeletPS.dll'\n    ModuleVersion        = '1.2.3'\n}\n");
        var quoted = manifest.Replace("'", "''", StringComparison.Ordinal);
        // systemd prints ExecStart's argv unquoted, words joined by spaces; the PowerShell command keeps its quotes.
        var show = "Id=kubeletps.service\nLoadState=loaded\nExecStart={ path=/usr/bin/pwsh ; argv[]=/usr/bin/pwsh -NoLogo -NoProfile -NonInteractive -Command " +
                   $"Import-Module '{quoted}'; Start-KubeletAgent -ConfigPath '/var/lib/kube let/it''s.yaml' -KubeconfigPath '/etc/kubernetes/kubelet.conf' -NodeName 'node1' -Verbose ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }}\n";
        var agent = Assert.Single(SystemdUnits.ParseShow(show)).Agent;
        Assert.NotNull(agent);
        Assert.Equal(manifest, agent.ModuleManifestPath);
        Assert.Equal("1.2.3", agent.ModuleVersion);
        Assert.Equal("/var/lib/kube let/it's.yaml", agent.ConfigPath);
        Assert.Equal("/etc/kubernetes/kubelet.conf", agent.KubeconfigPath);
        Assert.Equal("node1", agent.NodeName);
    }

    [Fact]
    public void An_agent_unit_without_files_reads_kubelets_defaults_and_a_missing_manifest_has_no_version()
    {
        var agent = AgentUnitParser.FromExecStart("{ path=/p ; argv[]=/p -Command Import-Module '/gone/KubeletPS.psd1'; Start-KubeletAgent -Verbose ; ignore_errors=no }");
        Assert.NotNull(agent);
        Assert.Null(agent.ModuleVersion);
        Assert.Equal("/var/lib/kubelet/config.yaml", agent.ConfigPath);
        Assert.Equal("/etc/kubernetes/kubelet.conf", agent.KubeconfigPath);
        Assert.Null(agent.NodeName);
        Assert.Null(AgentUnitParser.FromExecStart("{ path=/usr/bin/containerd ; argv[]=/usr/bin/containerd ; ignore_errors=no }"));
    }

    [Fact]
    public void Unit_file_dependencies_are_the_names_in_After_Wants_Requires_of_Unit_an_empty_value_resets()
    {
        var names = SystemdUnits.UnitFileDependencies("""
            # comment After=ignored.service
            [Unit]
            Description=x
            Wants=early.service
            After=
            Wants=network-online.target containerd.service
            After=network-online.target containerd.service
            Requires=iscsid.service
            [Service]
            After=not-a-unit-key.service
            """);
        Assert.Equal(["network-online.target", "containerd.service", "network-online.target", "containerd.service", "iscsid.service"], names);
    }

    [Fact]
    public void Dependencies_are_read_from_the_unit_file_and_its_drop_ins()
    {
        var unit = Path.Combine(_dir, "kubeletps.service");
        var dropIn = Path.Combine(_dir, "10-iscsi.conf");
        File.WriteAllText(unit, "[Unit]\nWants=network-online.target containerd.service\nAfter=network-online.target containerd.service\n");
        File.WriteAllText(dropIn, "[Unit]\nAfter=iscsid.service\n");
        var status = new SystemdUnitStatus { Name = "kubeletps.service", FragmentPath = unit, DropInPaths = [dropIn, Path.Combine(_dir, "missing.conf")] };
        Assert.Equal(["network-online.target", "containerd.service", "iscsid.service"], SystemdUnits.UnitFileDependencies(status));
    }

    [Fact]
    public void List_unit_files_json_and_plain_give_the_unit_names()
    {
        const string json = """[{"unit_file":"e2scrub_reap.service","state":"enabled","preset":"enabled"},{"unit_file":"getty@.service","state":"enabled","preset":"enabled"}]""";
        Assert.Equal(["e2scrub_reap.service", "getty@.service"], SystemdUnits.ParseUnitFilesJson(json));
        Assert.Equal(["e2scrub_reap.service", "getty@.service"], SystemdUnits.ParseUnitFilesPlain("e2scrub_reap.service   enabled enabled\ngetty@.service         enabled enabled\n"));
        var e = Assert.Throws<KubeletException>(() => SystemdUnits.ParseUnitFilesJson("UNIT FILE STATE"));
        Assert.Equal(KubeletErrorKind.InvalidData, e.Category);
    }

    [Theory]
    [InlineData("kubeletps", "kubeletps.service")]
    [InlineData("containerd.service", "containerd.service")]
    [InlineData("network-online.target", "network-online.target")]
    [InlineData("my.agent", "my.agent.service")]
    [InlineData("--help", "--help.service")]
    public void Unit_names_get_service_unless_they_have_a_unit_suffix(string name, string unit) =>
        Assert.Equal(unit, SystemdUnits.UnitName(name));

    [Fact]
    public void Without_systemd_as_PID_1_reading_units_fails_as_not_ready_naming_run_systemd_system()
    {
        if (SystemdTools.Booted) return; // this machine runs systemd: the nspawn tests cover it
        var e = Assert.Throws<KubeletException>(() => SystemdUnits.ShowAsync(["containerd"], CancellationToken.None).GetAwaiter().GetResult());
        Assert.Equal(KubeletErrorKind.NotReady, e.Category);
        Assert.Contains("systemd does not run this machine", e.Message, StringComparison.Ordinal);
        Assert.Equal("/run/systemd/system", e.Target);
    }
}
