using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using KubeletPS.Core.Server.Streaming;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Server;

/// <summary>
/// pods/exec, pods/attach and pods/portforward as kube-apiserver serves them (registry/core/pod
/// rest/subresources.go and strategy.go streamLocation): the container defaulted and checked,
/// the options turned into the kubelet's query (input/output/error=1, command, port), and the
/// upgraded connection proxied to the node's kubelet at its InternalIP and daemonEndpoints port,
/// as user kube-apiserver-kubelet-client (group system:masters).
/// <para>
/// WebSocket requests are passed to the kubelet unchanged, which is what kube-apiserver does with
/// TranslateStreamCloseWebsocketRequests and PortForwardWebsockets off: the container runtime's
/// streaming server refuses kubectl 1.32's v5.channel.k8s.io and SPDY/3.1+portforward.k8s.io
/// WebSocket subprotocols (it knows channel.k8s.io up to v4), kubectl sees the failed upgrade and
/// falls back to SPDY, which goes through unchanged. The translation to SPDY that a 1.32 server
/// does instead is not implemented here.
/// </para>
/// </summary>
internal sealed class PodStreamingProxy
{
    /// <summary>The pod subresources served here, with the verbs they accept.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Subresources = new Dictionary<string, string[]>
    {
        ["exec"] = ["create", "get"],
        ["attach"] = ["create", "get"],
        ["portforward"] = ["create", "get"],
    };

    private readonly ObjectStore _store;
    private readonly UpgradeAwareProxy _proxy;

    public PodStreamingProxy(ObjectStore store, ClusterPki pki, ILogger logger, TimeSpan? idleTimeout = null)
    {
        _store = store;
        var client = pki.Issue(new CertificateSpec("kube-apiserver-kubelet-client") { Organizations = ["system:masters"] }).WithKey();
        var ca = pki.CA.Certificate;
        _proxy = new UpgradeAwareProxy(new UpgradeAwareProxyOptions
        {
            IdleTimeout = idleTimeout ?? UpgradeAwareProxyOptions.DefaultIdleTimeout,
            BackendTls = new SslClientAuthenticationOptions
            {
                ClientCertificates = [client],
                // kube-apiserver without --kubelet-certificate-authority does not verify the kubelet's
                // serving certificate (a kubelet's self-signed one is the default); one that claims the
                // cluster CA as issuer must chain to it.
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && AcceptKubeletCertificate(new X509Certificate2(certificate), ca),
            },
            Log = new LoggerKubeletLog(logger),
        });
    }

    public static bool Serves(ResourceType type, string subresource) => type == ResourceRegistry.Pods && Subresources.ContainsKey(subresource);

    public async Task HandleAsync(HttpContext context, string podNamespace, string podName, string subresource)
    {
        var pod = _store.Get(ResourceRegistry.Pods, podNamespace, podName);
        var query = context.Request.Query;
        var kubeletQuery = new List<KeyValuePair<string, string>>();
        string path;
        if (subresource == "portforward")
        {
            foreach (var port in query["ports"].Concat(query["port"]))
            {
                foreach (var p in (port ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)) kubeletQuery.Add(new("port", p));
            }

            path = $"/portForward/{Uri.EscapeDataString(podNamespace)}/{Uri.EscapeDataString(podName)}";
        }
        else
        {
            var container = DefaultContainer(pod, podName, query["container"].ToString());
            // streamParams: PodExecOptions / PodAttachOptions to the kubelet's wire names.
            foreach (var (option, wire) in new[] { ("stdin", "input"), ("stdout", "output"), ("stderr", "error"), ("tty", "tty") })
            {
                if (query[option].ToString() is "true" or "1") kubeletQuery.Add(new(wire, "1"));
            }

            if (subresource == "exec")
            {
                foreach (var c in query["command"]) kubeletQuery.Add(new("command", c ?? ""));
            }

            path = $"/{subresource}/{Uri.EscapeDataString(podNamespace)}/{Uri.EscapeDataString(podName)}/{Uri.EscapeDataString(container)}";
        }

        var location = new UriBuilder(KubeletBase(pod, podName))
        {
            Path = path,
            Query = string.Join('&', kubeletQuery.Select(kv => $"{Uri.EscapeDataString(kv.Key)}={Uri.EscapeDataString(kv.Value)}")),
        }.Uri;
        await _proxy.ProxyAsync(context, location);
    }

    private static string DefaultContainer(JsonObject pod, string podName, string container)
    {
        var names = Names(pod["spec"]?["containers"]);
        var initNames = Names(pod["spec"]?["initContainers"]);
        var ephemeralNames = Names(pod["spec"]?["ephemeralContainers"]);
        if (container.Length == 0)
        {
            if (names.Count == 1) return names[0];
            if (names.Count == 0) throw ApiException.BadRequest($"a container name must be specified for pod {podName}");
            var message = $"a container name must be specified for pod {podName}, choose one of: [{string.Join(' ', names)}]";
            if (initNames.Count > 0) message += $" or one of the init containers: [{string.Join(' ', initNames)}]";
            throw ApiException.BadRequest(message);
        }

        if (!names.Contains(container) && !initNames.Contains(container) && !ephemeralNames.Contains(container))
            throw ApiException.BadRequest($"container {container} is not valid for pod {podName}");
        return container;
    }

    private Uri KubeletBase(JsonObject pod, string podName)
    {
        var nodeName = pod["spec"]?["nodeName"]?.GetValue<string>();
        if (string.IsNullOrEmpty(nodeName)) throw ApiException.BadRequest($"pod {podName} does not have a host assigned");
        var node = _store.Get(ResourceRegistry.Nodes, null, nodeName);
        var addresses = node["status"]?["addresses"]?.AsArray() ?? [];
        var host = addresses.FirstOrDefault(a => a?["type"]?.GetValue<string>() == "InternalIP")?["address"]?.GetValue<string>()
            ?? addresses.FirstOrDefault(a => a?["type"]?.GetValue<string>() == "Hostname")?["address"]?.GetValue<string>()
            ?? throw ApiException.BadRequest($"node {nodeName} has no InternalIP or Hostname address");
        var port = node["status"]?["daemonEndpoints"]?["kubeletEndpoint"]?["Port"]?.GetValue<int>() ?? 0;
        if (port <= 0) port = 10250;
        return new UriBuilder(Uri.UriSchemeHttps, host, port).Uri;
    }

    private static List<string> Names(JsonNode? containers) =>
        containers?.AsArray().Select(c => c?["name"]?.GetValue<string>()).OfType<string>().ToList() ?? [];

    private static bool AcceptKubeletCertificate(X509Certificate2 certificate, X509Certificate2 ca)
    {
        if (certificate.IssuerName.RawData.AsSpan().SequenceEqual(ca.SubjectName.RawData) is false) return true;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    private sealed class LoggerKubeletLog(ILogger logger) : Core.IKubeletLog
    {
        public void Write(Core.KubeletLogLevel level, string message) => logger.Log(level switch
        {
            Core.KubeletLogLevel.Debug => LogLevel.Debug,
            Core.KubeletLogLevel.Info => LogLevel.Information,
            Core.KubeletLogLevel.Warning => LogLevel.Warning,
            _ => LogLevel.Error,
        }, "{Message}", message);
    }
}
