using k8s;
using k8s.Models;
using KubeletPS.Core.Api;

namespace KubeletPS.Core.Node;

/// <summary>
/// The node heartbeat: a Lease named after the node in kube-node-lease, owned by the Node,
/// renewed every leaseDuration/4 (client-go's lease controller as kubelet runs it). Renewals
/// reuse the last Lease read (one PUT each); a 409 re-reads and retries; failures back off
/// exponentially (200 ms doubling to 7 s) without giving up.
/// </summary>
public sealed class NodeLeaseController(IKubernetes client, ApiIdentity identity, string nodeName, int leaseDurationSeconds,
    TimeProvider time, IKubeletLog log)
{
    public const string LeaseNamespace = "kube-node-lease";
    private const int MaxUpdateRetries = 5;

    private V1Lease? _latest;
    private string? _nodeUid;

    public TimeSpan RenewInterval => TimeSpan.FromSeconds(leaseDurationSeconds / 4.0);

    /// <summary>The Lease as last written, with its renew time.</summary>
    public V1Lease? Latest => _latest;

    /// <summary>Raised after each successful renewal.</summary>
    public event Action<V1Lease>? Renewed;

    public void SetNodeUid(string? uid) => _nodeUid = uid;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await SyncAsync(cancellationToken).ConfigureAwait(false);
            // A little jitter (4 %, as kubelet) so that many nodes drift apart.
            var delay = RenewInterval * (1 + 0.04 * Random.Shared.NextDouble());
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One renewal: update the known Lease, else ensure it exists (with back-off), then update.</summary>
    public async Task SyncAsync(CancellationToken cancellationToken)
    {
        if (_latest is not null)
        {
            try
            {
                await UpdateAsync(_latest, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (KubeletApiException e)
            {
                log.Warning($"Renewing lease {LeaseNamespace}/{nodeName} failed, will re-read it: {e.Message}");
            }
        }
        var lease = await EnsureLeaseAsync(cancellationToken).ConfigureAwait(false);
        await RetryUpdateAsync(lease, cancellationToken).ConfigureAwait(false);
    }

    private async Task<V1Lease> EnsureLeaseAsync(CancellationToken cancellationToken)
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(7));
        while (true)
        {
            try
            {
                try
                {
                    return await ApiCall.RunAsync(identity, "get", "leases", $"{LeaseNamespace}/{nodeName}",
                        () => client.CoordinationV1.ReadNamespacedLeaseAsync(nodeName, LeaseNamespace, cancellationToken: cancellationToken),
                        cancellationToken).ConfigureAwait(false);
                }
                catch (KubeletApiException e) when (e.IsNotFound)
                {
                    var created = await ApiCall.RunAsync(identity, "create", "leases", $"{LeaseNamespace}/{nodeName}",
                        () => client.CoordinationV1.CreateNamespacedLeaseAsync(NewLease(null), LeaseNamespace, cancellationToken: cancellationToken),
                        cancellationToken).ConfigureAwait(false);
                    log.Info($"Created lease {LeaseNamespace}/{nodeName}.");
                    _latest = created;
                    Renewed?.Invoke(created);
                    return created;
                }
            }
            catch (KubeletApiException e) when (e.IsConflict || e.IsTransient || e.Category is KubeletErrorKind.PermissionDenied or KubeletErrorKind.Authentication)
            {
                var delay = backoff.Next();
                log.Warning($"Ensuring lease {LeaseNamespace}/{nodeName} failed, retrying in {delay.TotalSeconds:0.0} s: {e.Message}");
                await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task RetryUpdateAsync(V1Lease lease, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await UpdateAsync(lease, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (KubeletApiException e) when (attempt < MaxUpdateRetries)
            {
                log.Warning($"Updating lease {LeaseNamespace}/{nodeName} failed (attempt {attempt}): {e.Message}");
                if (e.IsConflict)
                {
                    lease = await EnsureLeaseAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (KubeletApiException e)
            {
                _latest = null;
                log.Error($"Failed {MaxUpdateRetries} times to update lease {LeaseNamespace}/{nodeName}; will try again in {RenewInterval.TotalSeconds:0.#} s: {e.Message}");
                return;
            }
        }
    }

    private async Task UpdateAsync(V1Lease basis, CancellationToken cancellationToken)
    {
        var lease = NewLease(basis);
        var updated = await ApiCall.RunAsync(identity, "update", "leases", $"{LeaseNamespace}/{nodeName}",
            () => client.CoordinationV1.ReplaceNamespacedLeaseAsync(lease, nodeName, LeaseNamespace, cancellationToken: cancellationToken),
            cancellationToken).ConfigureAwait(false);
        _latest = updated;
        log.Debug($"Renewed lease {LeaseNamespace}/{nodeName} at {updated.Spec.RenewTime:O}.");
        Renewed?.Invoke(updated);
    }

    private V1Lease NewLease(V1Lease? basis)
    {
        var lease = basis is null
            ? new V1Lease { ApiVersion = "coordination.k8s.io/v1", Kind = "Lease", Metadata = new V1ObjectMeta { Name = nodeName, NamespaceProperty = LeaseNamespace }, Spec = new V1LeaseSpec() }
            : KubeObjects.DeepCopy(basis);
        lease.Spec ??= new V1LeaseSpec();
        lease.Spec.HolderIdentity = nodeName;
        lease.Spec.LeaseDurationSeconds = leaseDurationSeconds;
        lease.Spec.RenewTime = time.GetUtcNow().UtcDateTime;
        if (_nodeUid is not null && (lease.Metadata.OwnerReferences is null || lease.Metadata.OwnerReferences.Count == 0))
        {
            // Owned by the Node, so the lease goes when the Node is deleted.
            lease.Metadata.OwnerReferences = [new V1OwnerReference { ApiVersion = "v1", Kind = "Node", Name = nodeName, Uid = _nodeUid }];
        }
        return lease;
    }
}
