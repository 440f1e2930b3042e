using System.Collections.ObjectModel;
using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Configuration;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// Get-KubeletConfig: a node's effective kubelet configuration (config.yaml with kubelet's
/// defaults applied) and the API server access its kubeconfig gives.
/// </summary>
[Cmdlet(VerbsCommon.Get, "KubeletConfig", DefaultParameterSetName = PathSet)]
[OutputType(typeof(KubeletConfigInfo))]
public sealed class GetKubeletConfigCommand : KubeletCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    [Parameter(ParameterSetName = PathSet, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Path { get; set; }

    [Parameter(ParameterSetName = LiteralPathSet, Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string[]? LiteralPath { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? KubeconfigPath { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Root { get; set; }

    protected override void ProcessRecord()
    {
        var root = ResolveRoot();
        var kubeconfig = KubeconfigPath is null ? null : ResolveLiteralPath(KubeconfigPath);
        foreach (var configPath in ConfigPaths())
        {
            LoadedKubeletConfig loaded;
            try
            {
                loaded = RunOnPipeline(ct => KubeletConfigLoader.LoadAsync(configPath, kubeconfig, root, ct, Log));
            }
            catch (KubeletConfigException e)
            {
                ThrowTerminatingError(EngineError(e, ErrorIdFor(e), e.Path));
                return;
            }
            WriteObject(new KubeletConfigInfo(loaded));
        }
    }

    /// <summary>The config files to read: none given means the node's default (null).</summary>
    private IEnumerable<string?> ConfigPaths()
    {
        if (LiteralPath is not null)
        {
            foreach (var path in LiteralPath) yield return ResolveLiteralPath(path);
            yield break;
        }
        if (Path is null)
        {
            yield return null;
            yield break;
        }
        foreach (var path in Path)
        {
            if (!WildcardPattern.ContainsWildcardCharacters(path))
            {
                // A named file that is missing is reported by the engine, with the same ErrorId as a missing default.
                yield return ResolveLiteralPath(path);
                continue;
            }
            Collection<string> resolved;
            ProviderInfo provider;
            try
            {
                resolved = SessionState.Path.GetResolvedProviderPathFromPSPath(path, out provider);
            }
            catch (ItemNotFoundException e)
            {
                ThrowTerminatingError(new ErrorRecord(e, ErrorIds.GetKubeletConfigFileNotFound, ErrorCategory.ObjectNotFound, path));
                yield break;
            }
            if (provider.ImplementingType != typeof(Microsoft.PowerShell.Commands.FileSystemProvider))
            {
                ThrowTerminatingError(new ErrorRecord(
                    new ArgumentException($"The path '{path}' is not a file-system path (provider {provider.Name})."),
                    ErrorIds.GetKubeletConfigPathNotFileSystem, ErrorCategory.InvalidArgument, path));
            }
            foreach (var file in resolved) yield return file;
        }
    }

    private string? ResolveRoot()
    {
        if (Root is null) return null;
        var root = ResolveLiteralPath(Root);
        if (!Directory.Exists(root))
        {
            ThrowTerminatingError(new ErrorRecord(
                new DirectoryNotFoundException($"Cannot find the node root '{root}' because it does not exist or is not a directory."),
                ErrorIds.GetKubeletConfigRootNotFound, ErrorCategory.ObjectNotFound, root));
        }
        return root;
    }

    private static readonly string[] KubeconfigFields = ["current-context", "contexts", "clusters", "users", "preferences"];

    private static string ErrorIdFor(KubeletConfigException e) => e switch
    {
        { Category: KubeletErrorKind.NotFound } => ErrorIds.GetKubeletConfigFileNotFound,
        { Category: KubeletErrorKind.PermissionDenied } => ErrorIds.GetKubeletConfigAccessDenied,
        { Field: "kind" or "apiVersion" } => ErrorIds.GetKubeletConfigWrongKind,
        { Field: null, Line: not null } => ErrorIds.GetKubeletConfigInvalidYaml,
        // Only a kubeconfig has these fields, so they tell its errors from the config file's.
        { Field: { } field } when KubeconfigFields.Any(f => field == f || field.StartsWith(f + "[", StringComparison.Ordinal) || field.StartsWith(f + ".", StringComparison.Ordinal))
            => ErrorIds.GetKubeletConfigInvalidKubeconfig,
        _ => ErrorIds.GetKubeletConfigInvalidValue,
    };
}
