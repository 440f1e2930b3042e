using System.Security.Cryptography;
using System.Text;

namespace KubeletPS.TestCluster.Runtime;

/// <summary>
/// What the cached nspawn root holds beyond debootstrap: Debian's containerd (enabled by its package, so
/// it starts at boot) with runc and the CNI plugins, the tools kubeadm's preflight looks for, and the
/// files that make containerd a node's runtime (CRI config, a CNI network), written into each machine's
/// overlay before it boots. The cache directory is keyed on the package list, so a root built from an
/// older list is not reused.
/// </summary>
public static class NspawnRootLayout
{
    /// <summary>debootstrap's --include: systemd and D-Bus to boot; ICU and OpenSSL for .NET (pwsh and the module);
    /// containerd, runc and the CNI plugins for the runtime; iproute2, iptables, ebtables, ethtool and socat for
    /// kubeadm's required and optional binaries.</summary>
    public const string Packages = "systemd,dbus,libicu72,libssl3,containerd,runc,containernetworking-plugins,iproute2,iptables,ebtables,ethtool,socat";

    /// <summary>The sandbox image the machine's containerd runs (imported at test time from <see cref="OciImageBuilder"/>'s archive).</summary>
    public const string SandboxImage = OciImageBuilder.PauseImage;

    /// <summary>
    /// containerd's config inside: the systemd cgroup driver (kubeadm's cgroupDriver: systemd), the native
    /// snapshotter (the machine's root is an overlay, which overlayfs cannot take as its upper layer), and the
    /// test images' pause as the sandbox image (there is no registry to pull registry.k8s.io/pause from).
    /// </summary>
    public const string ContainerdConfig = $$"""
        version = 2

        [plugins]
          [plugins."io.containerd.grpc.v1.cri"]
            sandbox_image = "{{SandboxImage}}"
            [plugins."io.containerd.grpc.v1.cri".containerd]
              snapshotter = "native"
              [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
                runtime_type = "io.containerd.runc.v2"
                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
                  SystemdCgroup = true
            [plugins."io.containerd.grpc.v1.cri".cni]
              bin_dir = "/usr/lib/cni"
              conf_dir = "/etc/cni/net.d"

        """;

    /// <summary>A bridge network, so the runtime reports NetworkReady (pods of these tests use the host's network).</summary>
    public const string CniConfig = """
        {
          "cniVersion": "1.0.0",
          "name": "kubeletps-nspawn",
          "plugins": [
            { "type": "bridge", "bridge": "kpsnspawn0", "isGateway": true, "ipMasq": true,
              "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.233.0.0/24" }]], "routes": [{ "dst": "0.0.0.0/0" }] } },
            { "type": "portmap", "capabilities": { "portMappings": true } }
          ]
        }

        """;

    /// <summary>The cache directory's name suffix: the first 8 hex digits of SHA-256 over the package list.</summary>
    public static string Key => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(Packages)))[..8].ToLowerInvariant();

    /// <summary>Writes the files into a machine's root (its overlay, before boot), with the machine's name as its
    /// hostname (debootstrap copies the host's /etc/hostname, and a node takes its name from the hostname).</summary>
    public static async Task WriteAsync(string root, string hostname, CancellationToken cancellationToken)
    {
        await File.WriteAllTextAsync(Path.Combine(root, "etc/hostname"), hostname + "\n", cancellationToken);
        Directory.CreateDirectory(Path.Combine(root, "etc/containerd"));
        await File.WriteAllTextAsync(Path.Combine(root, "etc/containerd/config.toml"), ContainerdConfig, cancellationToken);
        Directory.CreateDirectory(Path.Combine(root, "etc/cni/net.d"));
        await File.WriteAllTextAsync(Path.Combine(root, "etc/cni/net.d/10-kubeletps.conflist"), CniConfig, cancellationToken);
    }
}
