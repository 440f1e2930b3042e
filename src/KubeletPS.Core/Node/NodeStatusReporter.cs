using k8s.Models;
using KubeletPS.Core.Api;

namespace KubeletPS.Core.Node;

/// <summary>
/// kubelet's node status loop: every nodeStatusUpdateFrequency it computes the status, and
/// patches nodes/status when something changed or when nodeStatusReportFrequency has passed
/// since the last report — so a quiet node costs one status patch per report period.
/// </summary>
public sealed class NodeStatusReporter(NodeRegistration registration, NodeStatusBuilder builder, Func<MachineInfo> readMachine,
    IRuntimeHealthSource runtime, TimeProvider time, IKubeletLog log)
{
    private V1NodeStatus? _reported;
    private DateTimeOffset _lastReport = DateTimeOffset.MinValue;

    public V1NodeStatus? Reported => _reported;

    /// <summary>Raised after each status patch.</summary>
    public event Action<V1Node>? StatusReported;

    public void SetReported(V1NodeStatus? status)
    {
        _reported = status;
        _lastReport = time.GetUtcNow();
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await SyncAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (KubeletApiException e)
            {
                log.Warning($"Updating the status of node {builder.Options.NodeName} failed; will retry: {e.Message}");
            }
            await Task.Delay(builder.Options.NodeStatusUpdateFrequency, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Returns true when it patched the status.</summary>
    public async Task<bool> SyncAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var health = await runtime.GetHealthAsync(cancellationToken).ConfigureAwait(false);
        var status = builder.BuildStatus(readMachine(), health, _reported, now.UtcDateTime);
        var changed = NodeStatusBuilder.StatusChanged(_reported, status);
        if (!changed && now - _lastReport < builder.Options.NodeStatusReportFrequency)
        {
            return false;
        }
        if (changed && _reported is not null)
        {
            foreach (var condition in status.Conditions)
            {
                var old = _reported.Conditions?.FirstOrDefault(c => c.Type == condition.Type);
                if (old is null || old.Status != condition.Status)
                    log.Info($"Node {builder.Options.NodeName} condition {condition.Type} is now {condition.Status} ({condition.Reason}: {condition.Message}).");
            }
        }
        var node = await registration.PatchStatusAsync(builder.Options.NodeName, status, cancellationToken).ConfigureAwait(false);
        _reported = status;
        _lastReport = now;
        log.Debug($"Reported the status of node {builder.Options.NodeName} ({(changed ? "changed" : "report period elapsed")}).");
        StatusReported?.Invoke(node);
        return true;
    }
}
