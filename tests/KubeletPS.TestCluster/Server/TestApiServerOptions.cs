using KubeletPS.TestCluster.Auth;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Server.Controllers;

namespace KubeletPS.TestCluster.Server;

public sealed class TestApiServerOptions
{
    /// <summary>The cluster CA; a new one is made when null.</summary>
    public ClusterPki? Pki { get; init; }

    /// <summary>Port on 127.0.0.1; 0 picks a free one (read it back from <see cref="TestApiServer.Port"/>).</summary>
    public int Port { get; init; }

    /// <summary>How often watches with allowWatchBookmarks=true get a BOOKMARK (the real server: about a minute).</summary>
    public TimeSpan BookmarkInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Changes kept for watches to resume from; older resourceVersions get 410 Expired.</summary>
    public int WatchCacheSize { get; init; } = 1000;

    /// <summary>Extra grants beyond the bootstrap policy (system:masters, discovery, public info) and the node rules.</summary>
    public IReadOnlyList<PolicyRule> Rules { get; init; } = [];

    /// <summary>Sign approved CSRs for kubernetes.io/kube-apiserver-client-kubelet and kubernetes.io/kubelet-serving, as kube-controller-manager does.</summary>
    public bool SignApprovedCertificateRequests { get; init; } = true;

    /// <summary>
    /// Approve kubelet client CSRs as kube-controller-manager's csrapproving controller does (new ones from bootstrappers
    /// allowed certificatesigningrequests/nodeclient, renewals from nodes allowed /selfnodeclient).
    /// </summary>
    public bool ApproveNodeClientCertificateRequests { get; init; } = true;

    /// <summary>Lifetime of the certificates the signer issues (kube-controller-manager --cluster-signing-duration, default 8760h).</summary>
    public TimeSpan ClientCertificateTtl { get; init; } = TimeSpan.FromDays(365);

    /// <summary>How often metrics.k8s.io scrapes the kubelets' /metrics/resource (metrics-server's --metric-resolution, default 15s).</summary>
    public TimeSpan MetricsResolution { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>metrics-server's --kubelet-insecure-tls: the kubelets' serving certificates are not verified (self-signed ones chain to no CA).</summary>
    public bool MetricsKubeletInsecureTls { get; init; } = true;

    /// <summary>Log level of the server's console log; quiet by default.</summary>
    public LogLevel MinimumLogLevel { get; init; } = LogLevel.Warning;

    /// <summary>Where the server logs; when null, the console at <see cref="MinimumLogLevel"/>.</summary>
    public ILoggerProvider? LoggerProvider { get; init; }

    /// <summary>
    /// The KubeletConfiguration published as the kubelet-config ConfigMap in kube-system (key "kubelet"), as kubeadm init
    /// uploads it (<see cref="ClusterInfoPublisher.KubeadmKubeletConfiguration"/>); none when null.
    /// </summary>
    public string? KubeletConfiguration { get; init; }

    /// <summary>When set, cluster-info is answered with this CA in its kubeconfig instead of the cluster's (a man in the middle).</summary>
    public string? ManInTheMiddleCaPem { get; init; }

    /// <summary>The man in the middle also re-signs the forged cluster-info with the bootstrap tokens (it has stolen a token).</summary>
    public bool ManInTheMiddleKnowsTokens { get; init; }

    /// <summary>
    /// kube-apiserver's --kubelet-certificate-authority: when set, the kubelets' serving certificates must chain to it for
    /// pods/log and nodes/proxy. Null (kubeadm's default) does not verify them.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? KubeletCertificateAuthority { get; init; }
    /// <summary>
    /// kube-apiserver's PortForwardWebsockets gate (on by default since 1.31): pods/portforward over a WebSocket offering
    /// SPDY/3.1+portforward.k8s.io is tunnelled to the kubelet's SPDY. Off, that WebSocket goes to the kubelet unchanged and is
    /// refused there, and kubectl falls back to SPDY.
    /// </summary>
    public bool PortForwardWebsockets { get; init; } = true;

    /// <summary>Idle timeout of the streams proxied to kubelets (pods/exec, attach, portforward); kubelet's default 4 h.</summary>
    public TimeSpan? StreamingConnectionIdleTimeout { get; init; }

    /// <summary>
    /// kube-controller-manager's --node-monitor-grace-period: a node whose heartbeat (Ready's lastHeartbeatTime or its Lease's
    /// renewTime) is not seen to change for this long goes Unknown (<see cref="NodeHealthMonitor"/>; 40 s in kube-controller-manager).
    /// Null (the default here) runs no node health monitor.
    /// </summary>
    public TimeSpan? NodeMonitorGracePeriod { get; init; }

    /// <summary>kube-controller-manager's --node-monitor-period: how often node health is checked (5 s by default).</summary>
    public TimeSpan NodeMonitorPeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Clock for timestamps and certificate validity checks (a fake clock in tests).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
