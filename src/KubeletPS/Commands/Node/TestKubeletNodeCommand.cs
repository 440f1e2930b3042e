using System.Collections;
using System.Management.Automation;
using KubeletPS.Core.Configuration;
using KubeletPS.NodeTests;

namespace KubeletPS.Commands;

/// <summary>
/// Test-KubeletNode: the module's node validation suite (NodeTests/*.Tests.ps1, one Pester
/// Describe per group) run in this session by Pester 5, against this node's files and runtime.
/// Returns Pester's result object; -OutputFormat/-OutputPath write Pester's NUnit or JUnit report.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "KubeletNode")]
[OutputType(PesterRunTypeName)]
public sealed class TestKubeletNodeCommand : KubeletCmdlet
{
    /// <summary>The groups, each NodeTests/GROUP.Tests.ps1 with a Describe tagged GROUP, in the order they run.</summary>
    internal static readonly string[] Groups = ["Preflight", "Runtime", "Configuration", "Certificates", "ApiServer", "Node", "Services"];

    private const string SuiteFolder = "NodeTests";
    private const string PesterRunTypeName = "Pester.Run";
    private const string RunTypeName = "KubeletPS.NodeTestRun";
    private const int PesterMajorVersion = 5;

    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string[]? Tag { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? ExcludeTag { get; set; }

    [Parameter]
    [ValidateSet("NUnitXml", "JUnitXml", "NUnit2.5", "NUnit3")]
    public string? OutputFormat { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? OutputPath { get; set; }

    [Parameter]
    public SwitchParameter Detailed { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Path")]
    [ValidateNotNullOrEmpty]
    public string? ConfigPath { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string KubeconfigPath { get; set; } = KubeletConfigLoader.DefaultKubeconfigPath;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? RuntimeEndpoint { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NodeName { get; set; }

    protected override void ProcessRecord()
    {
        var files = SelectTestFiles();
        var pester = ImportPester();
        var probe = new KubeletNodeProbe(
            ConfigPath is null ? null : ResolveLiteralPath(ConfigPath),
            ResolveLiteralPath(KubeconfigPath),
            RuntimeEndpoint,
            NodeName);
        var format = OutputFormat ?? (OutputPath is null ? null : "NUnitXml");
        var outputPath = format is null ? null : ResolveLiteralPath(OutputPath ?? "testResults.xml");
        WriteVerbose($"Running {files.Count} node test group(s) with Pester {pester.Version}" + (outputPath is null ? "." : $"; {format} report to {outputPath}."));

        const string script = """
            param($Files, $Data, $Tag, $ExcludeTag, $Format, $OutputPath, $Verbosity)
            $configuration = Pester\New-PesterConfiguration
            $configuration.Run.Container = Pester\New-PesterContainer -Path $Files -Data $Data
            $configuration.Run.PassThru = $true
            $configuration.Output.Verbosity = $Verbosity
            if ($Tag) { $configuration.Filter.Tag = $Tag }
            if ($ExcludeTag) { $configuration.Filter.ExcludeTag = $ExcludeTag }
            if ($Format) {
                $configuration.TestResult.Enabled = $true
                $configuration.TestResult.OutputFormat = $Format
                $configuration.TestResult.OutputPath = $OutputPath
                $configuration.TestResult.TestSuiteName = 'Test-KubeletNode'
            }
            Pester\Invoke-Pester -Configuration $configuration
            """;
        var data = new Hashtable { ["Node"] = probe };
        var results = InvokeCommand.InvokeScript(false, ScriptBlock.Create(script), null,
            files.ToArray(), data, Tag, ExcludeTag, format, outputPath, Detailed ? "Detailed" : "Normal");
        foreach (var result in results)
        {
            // Pester's own object, with our type name first so it formats as a one-line summary.
            if (result.TypeNames.Contains(PesterRunTypeName)) result.TypeNames.Insert(0, RunTypeName);
            WriteObject(result);
        }
    }

    /// <summary>The suite's files: every group, or those -Tag names, less those -ExcludeTag names.</summary>
    private List<string> SelectTestFiles()
    {
        var folder = System.IO.Path.Combine(MyInvocation.MyCommand.Module?.ModuleBase ?? AppContext.BaseDirectory, SuiteFolder);
        foreach (var name in (Tag ?? []).Concat(ExcludeTag ?? []))
        {
            if (!Groups.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                ThrowTerminatingError(new ErrorRecord(
                    new ArgumentException($"No node test group is tagged '{name}'. The groups are: {string.Join(", ", Groups)}."),
                    ErrorIds.TestKubeletNodeUnknownGroup, ErrorCategory.InvalidArgument, name));
            }
        }
        var files = new List<string>();
        foreach (var group in Groups)
        {
            if (Tag is not null && !Tag.Contains(group, StringComparer.OrdinalIgnoreCase)) continue;
            if (ExcludeTag is not null && ExcludeTag.Contains(group, StringComparer.OrdinalIgnoreCase)) continue;
            var file = System.IO.Path.Combine(folder, group + ".Tests.ps1");
            if (!File.Exists(file))
            {
                ThrowTerminatingError(new ErrorRecord(
                    new FileNotFoundException($"The node test suite is incomplete: {file} is missing. Reinstall the KubeletPS module.", file),
                    ErrorIds.TestKubeletNodeSuiteNotFound, ErrorCategory.ObjectNotFound, file));
            }
            files.Add(file);
        }
        return files;
    }

    /// <summary>Pester 5, loaded already or imported from the module path; an ErrorRecord saying how to get it otherwise.</summary>
    private PSModuleInfo ImportPester()
    {
        static PSModuleInfo? Pick(IEnumerable<PSObject> modules) => modules.Select(m => m.BaseObject).OfType<PSModuleInfo>()
            .Where(m => m.Version.Major == PesterMajorVersion).OrderByDescending(m => m.Version).FirstOrDefault();

        var loaded = InvokeCommand.InvokeScript("Get-Module -Name Pester").Select(m => m.BaseObject).OfType<PSModuleInfo>().ToList();
        if (Pick(loaded.Select(m => new PSObject(m))) is { } current)
        {
            return current;
        }
        if (loaded.Count == 0
            && Pick(InvokeCommand.InvokeScript("Get-Module -ListAvailable -Name Pester")) is { } available)
        {
            WriteVerbose($"Importing Pester {available.Version} from {available.Path}.");
            return InvokeCommand.InvokeScript(false, ScriptBlock.Create("param($Path) Import-Module -Name $Path -Global -PassThru"), null, available.Path)
                .Select(m => m.BaseObject).OfType<PSModuleInfo>().First();
        }
        var found = loaded.Count > 0 ? $" Pester {loaded[0].Version} is loaded; remove it first (Remove-Module Pester)." : "";
        ThrowTerminatingError(new ErrorRecord(
            new ItemNotFoundException(
                $"Test-KubeletNode runs its checks with Pester {PesterMajorVersion}, which is not available.{found} Install it with " +
                $"'Install-PSResource -Name Pester -Version \"[5.0,6.0)\"' (or 'Install-Module Pester -MinimumVersion 5.0 -Scope CurrentUser'), " +
                "or import a copy first, e.g. the NuGet package build.ps1 restores: " +
                "'Import-Module ~/.nuget/packages/pester/5.7.1/tools/Pester.psd1'."),
            ErrorIds.TestKubeletNodePesterNotFound, ErrorCategory.ObjectNotFound, "Pester"));
        return null!; // unreachable
    }
}
