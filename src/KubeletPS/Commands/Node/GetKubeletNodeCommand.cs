using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Node;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>Get-KubeletNode: the node as the API server sees it, with its conditions and its lease.</summary>
[Cmdlet(VerbsCommon.Get, "KubeletNode")]
[OutputType(typeof(KubeletNodeInfo))]
public sealed class GetKubeletNodeCommand : NodeAgentCmdlet
{
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("NodeName")]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    protected override string? NodeNameParameter => Name is { Length: > 0 } ? Name[0] : null;

    protected override void ProcessRecord()
    {
        const string prefix = nameof(ErrorIds.GetKubeletNode);
        var request = BuildRequest();
        try
        {
            var nodes = RunOnPipeline(async ct =>
            {
                await using var context = await NodeAgentContext.CreateAsync(request, Log, ct).ConfigureAwait(false);
                var names = Name is { Length: > 0 } ? Name.Select(n => n.ToLowerInvariant()).ToArray() : [context.Options.NodeName];
                var found = new List<(string Name, NodeSummary? Node)>();
                foreach (var name in names)
                {
                    found.Add((name, await context.GetNodeAsync(name, ct).ConfigureAwait(false)));
                }
                return (found, context.Identity.Server);
            });
            foreach (var (name, node) in nodes.found)
            {
                if (node is null)
                {
                    WriteError(new ErrorRecord(new ItemNotFoundException($"Node \"{name}\" is not registered with the API server {nodes.Server}."),
                        prefix + "NotFound", ErrorCategory.ObjectNotFound, name));
                    continue;
                }
                WriteObject(new KubeletNodeInfo(node));
            }
        }
        catch (Exception e) when (e is KubeletException or OperationCanceledException)
        {
            ThrowTerminatingError(NodeError(e, prefix));
        }
    }
}
