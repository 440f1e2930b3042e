using k8s.Models;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.Network;

/// <summary>
/// Kubelet's DNS configurer: the resolv.conf a pod gets from its dnsPolicy (ClusterFirst,
/// ClusterFirstWithHostNet, Default, None), the node's clusterDNS/clusterDomain and resolvConf,
/// and the pod's own dnsConfig merged in.
/// </summary>
public sealed class PodDns(IReadOnlyList<string> clusterDns, string clusterDomain, string? resolvConf, IKubeletLog? log = null)
{
    /// <summary>The node's clusterDomain (empty when none is configured).</summary>
    public string ClusterDomain => clusterDomain;

    private const int MaxSearches = 32;
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);

    public DnsSpec? For(V1Pod pod)
    {
        var spec = pod.Spec;
        var policy = spec.DnsPolicy ?? "ClusterFirst";
        if (policy == "ClusterFirst" && spec.HostNetwork == true) policy = "Default";
        if (policy is "ClusterFirst" or "ClusterFirstWithHostNet" && clusterDns.Count == 0)
        {
            lock (_warned)
            {
                if (_warned.Add(pod.Metadata.Uid))
                    log?.Warning($"pod {pod.Namespace()}/{pod.Name()}: dnsPolicy {policy} but the kubelet has no clusterDNS; falling back to the node's resolv.conf (dnsPolicy Default).");
            }
            policy = "Default";
        }

        List<string> servers = [], searches = [], options = [];
        switch (policy)
        {
            case "ClusterFirst" or "ClusterFirstWithHostNet":
                servers.AddRange(clusterDns);
                if (!string.IsNullOrEmpty(clusterDomain))
                {
                    var ns = pod.Namespace() ?? "default";
                    searches.AddRange([$"{ns}.svc.{clusterDomain}", $"svc.{clusterDomain}", clusterDomain]);
                }
                searches.AddRange(ReadHost().Searches);
                options.Add("ndots:5");
                break;
            case "Default":
                var host = ReadHost();
                if (host.Servers.Count == 0 && host.Searches.Count == 0 && host.Options.Count == 0 && spec.DnsConfig is null)
                {
                    // resolvConf "" disables DNS: the runtime then gives the image's own resolv.conf.
                    return string.IsNullOrEmpty(resolvConf) ? null : new DnsSpec([], [], []);
                }
                servers.AddRange(host.Servers);
                searches.AddRange(host.Searches);
                options.AddRange(host.Options);
                break;
            case "None":
                break;
        }

        if (spec.DnsConfig is { } extra)
        {
            foreach (var s in extra.Nameservers ?? []) if (!servers.Contains(s)) servers.Add(s);
            foreach (var s in extra.Searches ?? []) if (!searches.Contains(s)) searches.Add(s);
            foreach (var o in extra.Options ?? [])
            {
                var text = string.IsNullOrEmpty(o.Value) ? o.Name : $"{o.Name}:{o.Value}";
                options.RemoveAll(existing => existing.Split(':')[0] == o.Name);
                options.Add(text);
            }
        }
        return new DnsSpec(servers.Take(3).ToList(), searches.Distinct().Take(MaxSearches).ToList(), options);
    }

    private (List<string> Servers, List<string> Searches, List<string> Options) ReadHost()
    {
        List<string> servers = [], searches = [], options = [];
        if (string.IsNullOrEmpty(resolvConf) || !File.Exists(resolvConf)) return (servers, searches, options);
        foreach (var raw in File.ReadAllLines(resolvConf))
        {
            var line = raw.Split('#', ';')[0];
            var fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 2) continue;
            switch (fields[0])
            {
                case "nameserver": servers.Add(fields[1]); break;
                case "search": searches = fields.Skip(1).Where(s => s != ".").ToList(); break;
                case "options": options.AddRange(fields.Skip(1)); break;
            }
        }
        return (servers, searches, options);
    }
}
