using System.Management.Automation;
using KubeletPS.Core;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Systemd;
using KubeletPS.Output;

namespace KubeletPS.Commands;

/// <summary>
/// Start-KubeletAgent: the whole kubelet in the foreground from the node's own files — registration,
/// lease, node status, static and API pods, status reporting — until Ctrl+C. This is what a service runs.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "KubeletAgent", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(KubeletNodeInfo))]
public sealed class StartKubeletAgentCommand : NodeForegroundCmdlet
{
    /// <summary>Overrides the configuration's staticPodPath; an empty string runs no static pods.</summary>
    [Parameter]
    [AllowEmptyString]
    public string? StaticPodPath { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PodLogDirectory { get; set; }

    [Parameter]
    public SwitchParameter StopPodsOnExit { get; set; }

    /// <summary>kubelet's --port: the kubelet server's HTTPS port instead of the configuration's; 0 picks a free port.</summary>
    [Parameter]
    [ValidateRange(0, 65535)]
    public int? Port { get; set; }

    /// <summary>kubelet's --healthz-port: 0 turns the plain-HTTP healthz server off, -1 picks a free port.</summary>
    [Parameter]
    [ValidateRange(-1, 65535)]
    public int? HealthzPort { get; set; }

    protected override void ProcessRecord()
    {
        const string prefix = nameof(ErrorIds.StartKubeletAgent);
        var request = new KubeletAgentRequest
        {
            Node = WithCertificates(BuildRequest()),
            StaticPodPath = StaticPodPath is null or "" ? StaticPodPath : ResolveLiteralPath(StaticPodPath),
            PodLogDirectory = PodLogDirectory is null ? null : ResolveLiteralPath(PodLogDirectory),
            StopPodsOnExit = StopPodsOnExit,
            ServerPort = Port,
            HealthzPort = HealthzPort,
        };
        RunInForeground(request.Node, "Run the kubelet: register the node, keep its lease and status, run its pods", prefix, async (_, stop) =>
        {
            // Run by systemd with its output in the journal: structured entries from the configuration on.
            using var journal = ServiceJournalLog.ForService(Log, Environment.GetEnvironmentVariable);
            var log = (IKubeletLog?)journal ?? Log;
            await using var agent = await KubeletAgent.CreateAsync(request, log, stop).ConfigureAwait(false);
            journal?.UseJournal(agent.Context.Config.Configuration.Logging);
            var activity = $"Registering node {agent.Context.Options.NodeName}";
            try
            {
                await agent.RunAsync(ReportRegistered(activity), ReportWaiting(activity, agent.Context.Identity.Server), stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // The time given, Ctrl+C or SIGTERM (systemctl stop): a clean stop.
            }
            log.Info($"The agent of node {agent.Context.Options.NodeName} stopped{(StopPodsOnExit ? " and stopped its pods" : "; its pods keep running")}.");
        });
    }
}
