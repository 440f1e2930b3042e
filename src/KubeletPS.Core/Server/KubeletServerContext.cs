using k8s;
using k8s.Models;
using KubeletPS.Core.Api;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Server.Endpoints;

namespace KubeletPS.Core.Server;

/// <summary>
/// What the endpoints read from the running kubelet, wired once by the agent (or a test). Every member is a snapshot
/// or a thread-safe reader: a handler never holds a pod engine lock while it writes to a client.
/// </summary>
public sealed class KubeletServerContext
{
    public required KubeletServerOptions Options { get; init; }
    public IKubeletLog Log { get; init; } = NullKubeletLog.Instance;
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>The serving certificate when it does not come from the configuration's files (serverTLSBootstrap).</summary>
    public IServingCertificateSource? ServingCertificate { get; init; }

    /// <summary>The node's API client: TokenReviews and SubjectAccessReviews (null only with AlwaysAllow and no webhook authentication).</summary>
    public IKubernetes? Client { get; init; }
    public ApiIdentity? Identity { get; init; }

    /// <summary>The pods this node runs with their latest statuses (/pods).</summary>
    public Func<IReadOnlyList<V1Pod>> Pods { get; init; } = () => [];

    /// <summary>The container runtime (container logs; exec, attach and port-forward streaming).</summary>
    public IRuntimeService? Runtime { get; init; }

    /// <summary>The node's and pods' stats (/stats/summary, /metrics/resource): the provider the eviction manager reads too.</summary>
    public Stats.CriStatsProvider? Stats { get; init; }

    /// <summary>The effective configuration (/configz).</summary>
    public KubeletConfiguration? Configuration { get; init; }

    /// <summary>What /metrics reports; /metrics is 404 when null.</summary>
    public KubeletMetrics? Metrics { get; init; }

    /// <summary>The checks /healthz runs.</summary>
    public KubeletHealthChecks Health { get; init; } = new();
}
