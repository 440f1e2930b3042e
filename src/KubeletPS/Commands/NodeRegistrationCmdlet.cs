using System.Management.Automation;

namespace KubeletPS.Commands;

/// <summary>
/// The node cmdlets that register the Node: kubelet's --hostname-override, --node-labels,
/// --register-with-taints and --node-ip on top of the shared parameters.
/// </summary>
public abstract class NodeRegistrationCmdlet : NodeAgentCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Name")]
    [ValidateNotNullOrEmpty]
    public string? NodeName { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] Label { get; set; } = [];

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[] Taint { get; set; } = [];

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NodeIp { get; set; }

    protected override string? NodeNameParameter => NodeName;
    protected override IReadOnlyList<string> LabelParameter => Label;
    protected override IReadOnlyList<string> TaintParameter => Taint;
    protected override string? NodeIpParameter => NodeIp;
}
