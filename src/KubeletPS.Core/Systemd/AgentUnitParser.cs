using System.Text;
using System.Text.RegularExpressions;
using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Systemd;

/// <summary>
/// Reads what a unit written by Install-KubeletService runs from systemctl show's ExecStart
/// ("{ path=… ; argv[]=pwsh … -Command Import-Module '…'; Start-KubeletAgent -ConfigPath '…' ; ignore_errors=no ; … }"):
/// the PowerShell command keeps its single-quoted strings, which is what is parsed.
/// </summary>
public static partial class AgentUnitParser
{
    /// <summary>The agent's command when the ExecStart runs Start-KubeletAgent; otherwise null.</summary>
    public static AgentUnitCommand? FromExecStart(string execStart)
    {
        var argv = Argv(execStart);
        var agent = argv.IndexOf("Start-KubeletAgent", StringComparison.Ordinal);
        if (agent < 0) return null;
        var module = ImportModule().Match(argv);
        if (!module.Success) return null;
        var manifest = Unquote(module.Groups[1].Value);
        var arguments = argv[agent..];
        return new AgentUnitCommand(
            manifest,
            ModuleVersionOf(manifest),
            Parameter(arguments, "ConfigPath") ?? KubeletConfigLoader.DefaultConfigPath,
            Parameter(arguments, "KubeconfigPath") ?? KubeletConfigLoader.DefaultKubeconfigPath,
            Parameter(arguments, "NodeName"));
    }

    /// <summary>ModuleVersion from a module manifest; null when it cannot be read.</summary>
    public static string? ModuleVersionOf(string manifestPath)
    {
        try
        {
            var match = ManifestVersion().Match(File.ReadAllText(manifestPath));
            return match.Success ? match.Groups[1].Value : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string Argv(string execStart)
    {
        const string marker = "argv[]=";
        var start = execStart.IndexOf(marker, StringComparison.Ordinal);
        if (start < 0) return execStart;
        start += marker.Length;
        var end = execStart.IndexOf(" ; ignore_errors=", start, StringComparison.Ordinal);
        return end < 0 ? execStart[start..] : execStart[start..end];
    }

    private static string? Parameter(string arguments, string name)
    {
        var match = Regex.Match(arguments, $@"\s-{name}\s+('(?:[^']|'')*')", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        return match.Success ? Unquote(match.Groups[1].Value) : null;
    }

    /// <summary>A PowerShell single-quoted string's value ('' is one quote).</summary>
    private static string Unquote(string quoted) =>
        new StringBuilder(quoted, 1, quoted.Length - 2, quoted.Length).Replace("''", "'").ToString();

    [GeneratedRegex(@"Import-Module\s+('(?:[^']|'')*')", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex ImportModule();

    [GeneratedRegex(@"(?m)^\s*ModuleVersion\s*=\s*['""]([^'""]+)['""]", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex ManifestVersion();
}
