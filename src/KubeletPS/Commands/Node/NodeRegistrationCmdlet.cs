using System.Management.Automation;
using KubeletPS.Core.Agent;
using KubeletPS.Output;

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

    /// <summary>Registration progress while waiting for the API server at <paramref name="server"/>.</summary>
    protected Action<int, string> ReportWaiting(string activity, string server) =>
        (attempt, reason) => Post(() => WriteProgress(new ProgressRecord(1, activity, $"Waiting for the API server {server} (attempt {attempt}): {reason}")));

    /// <summary>Ends the registration progress and writes the registered Node.</summary>
    protected Action<NodeRegistrationOutcome> ReportRegistered(string activity) =>
        registered => Post(() =>
        {
            WriteProgress(new ProgressRecord(1, activity, "Registered") { RecordType = ProgressRecordType.Completed });
            WriteObject(new KubeletNodeInfo(registered));
        });
}
