using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Node;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Stats;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// Get-KubeletStats: the kubelet's summary of this node and its pods (/stats/summary) read straight
/// from the container runtime, cgroups and /proc by the engine's stats provider — no kubelet server
/// or API server needed. Two samples <c>-SampleInterval</c> apart give the CPU rates.
/// </summary>
[Cmdlet(VerbsCommon.Get, "KubeletStats")]
[OutputType(typeof(KubeletNodeStats), typeof(KubeletPodStats), typeof(string))]
public sealed class GetKubeletStatsCommand : KubeletRuntimeCmdlet
{
    /// <summary>Pods to report (wildcards); a KubeletPodInfo piped in binds its Name. Without it the node and every pod are written.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Name", "PodName")]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Pod { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string? Namespace { get; set; }

    /// <summary>Seconds between the two samples the CPU rates come from; 0 takes one sample (no rates).</summary>
    [Parameter]
    [ValidateRange(0.0, 60.0)]
    public double SampleInterval { get; set; } = 1;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string RootDirectory { get; set; } = GetKubeletPodCommand.DefaultRootDirectory;

    /// <summary>The node name in the summary; by default the host name, as kubelet names its node.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? NodeName { get; set; }

    /// <summary>Writes the summary as kubelet's /stats/summary JSON instead of objects.</summary>
    [Parameter]
    public SwitchParameter AsJson { get; set; }

    private readonly List<(string Name, string? Namespace)> _requested = [];

    private protected override (string, string, string, string, string) RuntimeErrorIds =>
        (ErrorIds.GetKubeletStatsRuntimeUnavailable, ErrorIds.GetKubeletStatsRuntimeNotReady, ErrorIds.GetKubeletStatsRuntimeError,
         ErrorIds.GetKubeletStatsInvalidEndpoint, ErrorIds.GetKubeletStatsInvalidConfig);

    // Piped pods are gathered and measured once at the end: one pair of samples for all of them.
    protected override void ProcessRecord()
    {
        foreach (var name in Pod ?? []) _requested.Add((name, Namespace));
    }

    protected override void EndProcessing()
    {
        var root = ResolveLiteralPath(RootDirectory);
        var machine = new MachineInfoReader(rootDirectory: root).Read();
        var nodeName = NodeName ?? Core.Node.NodeName.Resolve();
        Summary summary;
        try
        {
            summary = RunOnPipeline(async ct =>
            {
                await using var client = Connection.CreateClient();
                await client.EnsureReadyAsync(ct).ConfigureAwait(false);
                var provider = new CriStatsProvider(new CriStatsProviderOptions { NodeName = nodeName, Runtime = client, RootDirectory = root, Log = Log });
                var result = await provider.GetSummaryAsync(updateCpuUsage: true, ct).ConfigureAwait(false);
                if (SampleInterval > 0)
                {
                    Log.Info($"Sampling again in {SampleInterval}s for the CPU rates (cgroup {provider.CgroupVersion}).");
                    await Task.Delay(TimeSpan.FromSeconds(SampleInterval), ct).ConfigureAwait(false);
                    result = await provider.GetSummaryAsync(updateCpuUsage: true, ct).ConfigureAwait(false);
                }
                return result;
            });
        }
        catch (KubeletRuntimeException e)
        {
            ThrowRuntimeError(e);
            return;
        }

        var patterns = _requested.Select(r => (r.Name, Pattern: new WildcardPattern(r.Name, WildcardOptions.IgnoreCase),
            Namespace: r.Namespace is null ? null : new WildcardPattern(r.Namespace, WildcardOptions.IgnoreCase))).ToList();
        var namespaceOnly = Namespace is null ? null : new WildcardPattern(Namespace, WildcardOptions.IgnoreCase);
        var pods = summary.Pods.Where(p => patterns.Count == 0
            ? namespaceOnly is null || namespaceOnly.IsMatch(p.PodRef.Namespace)
            : patterns.Any(r => r.Pattern.IsMatch(p.PodRef.Name) && (r.Namespace is null || r.Namespace.IsMatch(p.PodRef.Namespace)))).ToList();

        if (AsJson.IsPresent)
        {
            WriteObject(new Summary { Node = summary.Node, Pods = pods }.ToJson());
        }
        else
        {
            if (patterns.Count == 0 && namespaceOnly is null) WriteObject(new KubeletNodeStats(summary.Node, machine.CpuCount, machine.MemoryCapacityBytes));
            foreach (var pod in pods) WriteObject(new KubeletPodStats(pod));
        }

        // As Get-KubeletPod: a name without wildcards that matches no running pod is an error for that name only.
        foreach (var (name, pattern, ns) in patterns)
        {
            if (WildcardPattern.ContainsWildcardCharacters(name) || pods.Any(p => pattern.IsMatch(p.PodRef.Name) && (ns is null || ns.IsMatch(p.PodRef.Namespace)))) continue;
            WriteError(new ErrorRecord(
                new ItemNotFoundException($"Cannot find a pod with running containers named \"{name}\" on this node (runtime {Connection.Endpoint}); the summary has only pods with running containers."),
                ErrorIds.GetKubeletStatsPodNotFound, ErrorCategory.ObjectNotFound, name));
        }
    }
}
