using System.Management.Automation;
using KubeletPS.Core.Pods.Inventory;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Status;
using KubeletPS.Core.Runtime;
using KubeletPS.Output;
using KubeletPS.Core.Configuration;

namespace KubeletPS.Commands;

/// <summary>
/// Get-KubeletPod: the pods on this node as the container runtime runs them, with the phase
/// and readiness the agent last wrote, like kubectl get pods for one node.
/// </summary>
[Cmdlet(VerbsCommon.Get, "KubeletPod")]
[OutputType(typeof(KubeletPodInfo))]
public sealed class GetKubeletPodCommand : KubeletRuntimeCmdlet
{
    public const string DefaultRootDirectory = KubeletConfigurationDefaults.DefaultRootDirectory;

    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string? Namespace { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string RootDirectory { get; set; } = DefaultRootDirectory;

    private protected override (string, string, string, string, string) RuntimeErrorIds =>
        (ErrorIds.GetKubeletPodRuntimeUnavailable, ErrorIds.GetKubeletPodRuntimeNotReady, ErrorIds.GetKubeletPodRuntimeError,
         ErrorIds.GetKubeletPodInvalidEndpoint, ErrorIds.GetKubeletPodInvalidConfig);

    protected override void ProcessRecord()
    {
        var names = (Name ?? ["*"]).Select(n => (Text: n, Pattern: new WildcardPattern(n, WildcardOptions.IgnoreCase))).ToList();
        var namespacePattern = Namespace is null ? null : new WildcardPattern(Namespace, WildcardOptions.IgnoreCase);
        var store = new LocalPodStatusStore(ResolveLiteralPath(RootDirectory));
        IReadOnlyList<RuntimePod> pods;
        try
        {
            pods = RunOnPipeline(async ct =>
            {
                await using var client = Connection.CreateClient();
                var inventory = new RuntimePodInventory(client, store, Log);
                return await inventory.ListAsync((ns, name) =>
                    (namespacePattern is null || namespacePattern.IsMatch(ns)) && names.Any(n => n.Pattern.IsMatch(name)), ct).ConfigureAwait(false);
            });
        }
        catch (KubeletRuntimeException e)
        {
            ThrowRuntimeError(e);
            return;
        }

        var now = DateTimeOffset.UtcNow;
        foreach (var pod in pods)
        {
            WriteObject(new KubeletPodInfo(pod, now));
        }

        // As Get-Process: a name without wildcards that matches nothing is an error for that name only.
        foreach (var (text, pattern) in names)
        {
            if (WildcardPattern.ContainsWildcardCharacters(text) || pods.Any(p => pattern.IsMatch(p.Name))) continue;
            var where = Namespace is null ? "" : $" in namespace \"{Namespace}\"";
            WriteError(new ErrorRecord(
                new ItemNotFoundException($"Cannot find a pod with the name \"{text}\"{where} on this node (runtime {Connection.Endpoint})."),
                ErrorIds.GetKubeletPodNotFound, ErrorCategory.ObjectNotFound, text));
        }
    }
}
