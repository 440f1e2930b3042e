using System.Text;
using k8s.Models;
using KubeletPS.Core.Pods.Volumes;

namespace KubeletPS.Core.Pods.Network;

/// <summary>
/// Kubelet's managed <c>/etc/hosts</c> for a pod's containers ({root}/pods/{uid}/etc-hosts): for a pod
/// on the pod network, the localhost lines and the pod's own IP with its hostname (and FQDN when
/// spec.subdomain is set); for a host-network pod, the node's /etc/hosts. Both end with spec.hostAliases.
/// A container that mounts its own /etc/hosts keeps it.
/// </summary>
public sealed class PodHostsFile(string rootDirectory, string clusterDomain, string nodeHostsPath = "/etc/hosts")
{
    public const string ContainerPath = "/etc/hosts";

    private readonly object _writing = new();

    public string PathFor(string uid) => Path.Combine(rootDirectory, "pods", uid, "etc-hosts");

    /// <summary>Writes the pod's hosts file when its content changed; returns its path, or null when the pod has no IP yet.</summary>
    public string? Ensure(V1Pod pod, string hostname, string? podIp)
    {
        var hostNetwork = pod.Spec.HostNetwork == true;
        if (!hostNetwork && string.IsNullOrEmpty(podIp)) return null;
        var content = hostNetwork ? NodeContent(pod) : ManagedContent(pod, hostname, podIp!);
        var path = PathFor(pod.Metadata.Uid);
        // The containers of a pod start in parallel and each ensures the file.
        lock (_writing)
        {
            // Containers may write to the file (it is mounted read-write, as kubelet mounts it): read
            // it back only when it has the managed content's size, never whatever size they made it.
            var bytes = Encoding.UTF8.GetBytes(content);
            if (new FileInfo(path) is { Exists: true } existing && existing.Length == bytes.Length && File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes)) return path;
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
            File.WriteAllBytes(temporary, bytes);
            PodVolumes.SetMode(temporary, 0x1A4); // 0644
            File.Move(temporary, path, overwrite: true);
            return path;
        }
    }

    public string ManagedContent(V1Pod pod, string hostname, string podIp)
    {
        var text = new StringBuilder();
        text.Append("# Kubernetes-managed hosts file.\n");
        text.Append("127.0.0.1\tlocalhost\n");
        text.Append("::1\tlocalhost ip6-localhost ip6-loopback\n");
        text.Append("fe00::0\tip6-localnet\n");
        text.Append("fe00::0\tip6-mcastprefix\n");
        text.Append("fe00::1\tip6-allnodes\n");
        text.Append("fe00::2\tip6-allrouters\n");
        if (!string.IsNullOrEmpty(pod.Spec.Subdomain) && !string.IsNullOrEmpty(clusterDomain))
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{podIp}\t{hostname}.{pod.Spec.Subdomain}.{pod.Namespace() ?? "default"}.svc.{clusterDomain}\t{hostname}\n");
        else
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"{podIp}\t{hostname}\n");
        AppendHostAliases(text, pod);
        return text.ToString();
    }

    private string NodeContent(V1Pod pod)
    {
        var text = new StringBuilder(File.Exists(nodeHostsPath) ? File.ReadAllText(nodeHostsPath) : "");
        if (text.Length > 0 && text[^1] != '\n') text.Append('\n');
        AppendHostAliases(text, pod);
        return text.ToString();
    }

    private static void AppendHostAliases(StringBuilder text, V1Pod pod)
    {
        if (pod.Spec.HostAliases is not { Count: > 0 } aliases) return;
        text.Append("\n# Entries added by HostAliases.\n");
        foreach (var alias in aliases)
        {
            if (string.IsNullOrEmpty(alias.Ip) || alias.Hostnames is not { Count: > 0 }) continue;
            text.Append(alias.Ip).Append('\t').Append(string.Join('\t', alias.Hostnames)).Append('\n');
        }
    }
}
