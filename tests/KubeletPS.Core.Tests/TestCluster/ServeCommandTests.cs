using System.Text.RegularExpressions;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.TestCluster;

/// <summary>The standalone test API server's <c>serve --help</c>: every option the command takes is listed.</summary>
public sealed partial class ServeCommandTests
{
    [GeneratedRegex("""case "(-[-a-z]+)"(?: or "(-[-a-z]+)")?:""")]
    private static partial Regex OptionCase();

    [Fact]
    public void Serve_help_lists_every_option_the_command_takes_the_port_forward_WebSocket_gate_included()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "KubeletPS.sln"))) dir = Path.GetDirectoryName(dir);
        var project = Path.Combine(dir ?? throw new InvalidOperationException("repository root not found"), "tests/KubeletPS.TestCluster");
        var source = File.ReadAllText(Directory.EnumerateFiles(project, "ServeCommand.cs", SearchOption.AllDirectories).Single(f => !f.Contains("/obj/", StringComparison.Ordinal)));
        var options = OptionCase().Matches(source).SelectMany(m => m.Groups.Values.Skip(1).Where(g => g.Success).Select(g => g.Value)).ToList();

        Assert.Contains("--dir", options);
        Assert.All(options, o => Assert.Matches($@"(^|\s|, ){Regex.Escape(o)}(\s|,|$)", ServeCommand.Usage));
        Assert.Contains("--feature-gates PortForwardWebsockets=true|false", ServeCommand.Usage);
        Assert.Contains("--node-monitor-grace-period DURATION", ServeCommand.Usage);
    }
}
