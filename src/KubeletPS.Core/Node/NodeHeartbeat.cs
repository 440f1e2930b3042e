using k8s;
using KubeletPS.Core.Api;

namespace KubeletPS.Core.Node;

/// <summary>
/// The node half of the kubelet: register (retrying with back-off until the API server answers),
/// then keep the Lease renewed and the status reported until cancelled. Registration errors that
/// retrying cannot fix (401, 403, invalid input) end it with the API server's reason.
/// </summary>
public sealed class NodeHeartbeat
{
    private readonly NodeStatusBuilder _builder;
    private readonly IRuntimeHealthSource _runtime;
    private readonly TimeProvider _time;
    private readonly IKubeletLog _log;
    private readonly MachineInfoReader _machine;

    public NodeHeartbeat(IKubernetes client, ApiIdentity identity, NodeAgentOptions options, IRuntimeHealthSource runtime,
        TimeProvider? time = null, IKubeletLog? log = null, INodePressure? pressure = null)
    {
        _builder = new NodeStatusBuilder(options) { Pressure = pressure };
        _runtime = runtime;
        _time = time ?? TimeProvider.System;
        _log = log ?? NullKubeletLog.Instance;
        _machine = new MachineInfoReader(options.HostRoot, options.RootDirectory);
        Registration = new NodeRegistration(client, identity, _builder, _log);
        Lease = new NodeLeaseController(client, identity, options.NodeName, options.NodeLeaseDurationSeconds, _time, _log);
        Status = new NodeStatusReporter(Registration, _builder, _machine.Read, runtime, _time, _log);
    }

    public NodeRegistration Registration { get; }
    public NodeLeaseController Lease { get; }
    public NodeStatusReporter Status { get; }

    /// <summary>Called before each registration retry with the attempt number, the delay and the reason.</summary>
    public Action<int, TimeSpan, string>? OnRegistrationRetry { get; set; }

    public async Task<NodeRegistrationResult> RegisterWithRetryAsync(CancellationToken cancellationToken)
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(7));
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var health = await _runtime.GetHealthAsync(cancellationToken).ConfigureAwait(false);
                var result = await Registration.RegisterAsync(_machine.Read(), health, _time.GetUtcNow().UtcDateTime, cancellationToken).ConfigureAwait(false);
                Lease.SetNodeUid(result.Node.Metadata.Uid);
                Status.SetReported(result.Node.Status);
                return result;
            }
            catch (KubeletApiException e) when (e.IsTransient || e.IsConflict)
            {
                var delay = backoff.Next();
                _log.Warning($"Unable to register node {_builder.Options.NodeName} (attempt {attempt}), retrying in {delay.TotalSeconds:0.0} s: {e.Message}");
                OnRegistrationRetry?.Invoke(attempt, delay, e.Message);
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Registers, then runs the lease and status loops until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await RegisterWithRetryAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Task.WhenAll(Lease.RunAsync(cancellationToken), Status.RunAsync(cancellationToken)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }
}
