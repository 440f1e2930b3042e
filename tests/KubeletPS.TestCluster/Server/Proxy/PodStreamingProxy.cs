using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Server.Proxy;

/// <summary>
/// pods/exec, pods/attach and pods/portforward as kube-apiserver serves them (registry/core/pod
/// rest/subresources.go and strategy.go streamLocation): the container defaulted and checked,
/// the options turned into the kubelet's query (input/output/error=1, command, port), and the
/// upgraded connection proxied to the node's kubelet at its InternalIP and daemonEndpoints port,
/// with <see cref="KubeletProxy"/>'s identity (kube-apiserver-kubelet-client, group system:masters) and verification.
/// <para>
/// An exec or attach WebSocket offering v5.channel.k8s.io (kubectl 1.32's default) is translated to
/// SPDY by <see cref="Streaming.StreamTranslator"/>, as kube-apiserver 1.32 does with
/// TranslateStreamCloseWebsocketRequests: the container runtime's streaming server knows
/// channel.k8s.io only up to v4 over SPDY. kubectl's port-forward WebSocket (SPDY/3.1+portforward.k8s.io)
/// is tunnelled to the kubelet's SPDY by <see cref="Streaming.StreamTunnel"/> (PortForwardWebsockets, on by
/// default). With <see cref="TestApiServerOptions.PortForwardWebsockets"/> false it goes to the kubelet unchanged,
/// as kube-apiserver does with the gate off: the runtime refuses it and kubectl falls back to SPDY, which goes
/// through unchanged.
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

    private readonly bool _portForwardWebsockets;

    public PodStreamingProxy(ObjectStore store, bool portForwardWebsockets)
    {
        _store = store;
        _portForwardWebsockets = portForwardWebsockets;
    }

    /// <summary>The port-forward tunnels over WebSocket (with their count).</summary>
    public Streaming.StreamTunnel Tunnel { get; } = new();

    public static bool Serves(ResourceType type, string subresource) => type == ResourceRegistry.Pods && Subresources.ContainsKey(subresource);

    /// <summary>Proxies the request to the kubelet of the pod's node through <paramref name="kubelets"/> (identity, address, upgrade proxy).</summary>
    public async Task HandleAsync(HttpContext context, KubeletProxy kubelets, string podNamespace, string podName, string subresource)
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

        var nodeName = pod["spec"]?["nodeName"]?.GetValue<string>();
        if (string.IsNullOrEmpty(nodeName)) throw ApiException.BadRequest($"pod {podName} does not have a host assigned");
        var location = new UriBuilder(kubelets.KubeletUri(nodeName))
        {
            Path = path,
            Query = string.Join('&', kubeletQuery.Select(kv => $"{Uri.EscapeDataString(kv.Key)}={Uri.EscapeDataString(kv.Value)}")),
        }.Uri;
        // kubectl 1.32's v5.channel.k8s.io WebSocket for exec and attach: translated to SPDY, as kube-apiserver 1.32 does.
        if (subresource != "portforward" && Streaming.StreamTranslator.IsV5WebSocketRequest(context.Request))
        {
            await Streaming.StreamTranslator.TranslateAsync(context, location, kubelets.Upgrades.Options.BackendTls);
            return;
        }
        if (subresource == "portforward" && _portForwardWebsockets && Streaming.StreamTunnel.IsTunnelingRequest(context.Request))
        {
            await Tunnel.TunnelAsync(context, location, kubelets.Upgrades.Options.BackendTls);
            return;
        }
        await kubelets.Upgrades.ProxyAsync(context, location);
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

    private static List<string> Names(JsonNode? containers) =>
        containers?.AsArray().Select(c => c?["name"]?.GetValue<string>()).OfType<string>().ToList() ?? [];
}
