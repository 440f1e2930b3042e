using System.Text.Json;

namespace KubeletPS.TestCluster.Runtime;

/// <summary>What this containerd runs with: its config.toml, the CNI network and the snapshotter that works here.</summary>
public sealed partial class PrivateContainerd
{
    private void WriteConfiguration()
    {
        foreach (var dir in new[] { RootDir, StateDir, RuncRoot, CniConfDir, PodLogsDir })
        {
            Directory.CreateDirectory(dir);
        }

        File.WriteAllText(ConfigPath, $$"""
            # Written by KubeletPS.TestCluster PrivateContainerd; every path is private to {{BaseDir}}.
            version = 2
            root = "{{RootDir}}"
            state = "{{StateDir}}"
            # Snapshotters that need special filesystems only slow the start down and log errors.
            disabled_plugins = [
              "io.containerd.snapshotter.v1.aufs",
              "io.containerd.snapshotter.v1.btrfs",
              "io.containerd.snapshotter.v1.zfs",
              "io.containerd.snapshotter.v1.devmapper",
              "io.containerd.tracing.processor.v1.otlp",
            ]

            [grpc]
              address = "{{SocketPath}}"

            [ttrpc]
              address = "{{SocketPath}}.ttrpc"

            [debug]
              level = "info"

            [plugins."io.containerd.internal.v1.opt"]
              path = "{{Path.Combine(BaseDir, "opt")}}"

            [plugins."io.containerd.grpc.v1.cri"]
              sandbox_image = "{{PauseImage}}"
              # Without CAP_SYS_RESOURCE runc cannot lower oom_score_adj below ours and
              # RunPodSandbox fails with "can't get final child's PID from pipe".
              restrict_oom_score_adj = true
              # Keep network namespace mounts under our state dir so that cleanup finds them.
              netns_mounts_under_state_dir = true
              enable_selinux = false
              # The CRI streaming server (Exec/Attach/PortForward URLs): loopback only, a port the
              # kernel picks, so that several private containerds never clash; plain HTTP as the
              # kubelet reaches it on the node itself.
              stream_server_address = "127.0.0.1"
              stream_server_port = "0"
              enable_tls_streaming = false

              [plugins."io.containerd.grpc.v1.cri".containerd]
                # {{Snapshotter}}: overlayfs when an overlay mount works in the base directory, else native (copies).
                snapshotter = "{{Snapshotter}}"
                default_runtime_name = "runc"

                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
                  runtime_type = "io.containerd.runc.v2"

                  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
                    # runc state of our containers stays under our base dir (default /run/containerd/runc).
                    Root = "{{RuncRoot}}"
                    SystemdCgroup = false

              [plugins."io.containerd.grpc.v1.cri".cni]
                bin_dir = "{{_options.CniBinDir}}"
                conf_dir = "{{CniConfDir}}"
                max_conf_num = 1
            {{(_options.RegistryConfigPath is { } registries ? $"""

              [plugins."io.containerd.grpc.v1.cri".registry]
                config_path = "{registries}"
            """ : "")}}
            """);

        // containerd adds the loopback network itself (go-cni WithLoNetwork), so one conflist is enough.
        // portmap needs iptables (also on DEL), so it is only listed when iptables is installed.
        var plugins = new List<object>
        {
            new Dictionary<string, object>
            {
                ["type"] = "bridge",
                ["bridge"] = BridgeName,
                ["isGateway"] = true,
                ["ipMasq"] = false,
                ["hairpinMode"] = true,
                ["ipam"] = new Dictionary<string, object>
                {
                    ["type"] = "host-local",
                    ["ranges"] = new[] { new[] { new Dictionary<string, string> { ["subnet"] = Subnet } } },
                    ["routes"] = new[] { new Dictionary<string, string> { ["dst"] = "0.0.0.0/0" } },
                    ["dataDir"] = Path.Combine(BaseDir, "cni", "ipam"),
                },
            },
        };
        if (FindExecutable("iptables") is not null)
        {
            plugins.Add(new Dictionary<string, object> { ["type"] = "portmap", ["capabilities"] = new Dictionary<string, bool> { ["portMappings"] = true } });
        }

        var conflist = new Dictionary<string, object> { ["cniVersion"] = "0.4.0", ["name"] = NetworkName, ["plugins"] = plugins };
        File.WriteAllText(Path.Combine(CniConfDir, "10-kubeletps.conflist"), JsonSerializer.Serialize(conflist, new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>overlayfs if an overlay mount works here (not on overlay-on-overlay or some container filesystems), else native.</summary>
    private static string ProbeSnapshotter(string baseDir)
    {
        var probe = Path.Combine(baseDir, "overlay-probe");
        try
        {
            foreach (var dir in new[] { "lower", "upper", "work", "merged" })
            {
                Directory.CreateDirectory(Path.Combine(probe, dir));
            }

            var merged = Path.Combine(probe, "merged");
            var data = $"lowerdir={Path.Combine(probe, "lower")},upperdir={Path.Combine(probe, "upper")},workdir={Path.Combine(probe, "work")}";
            if (LinuxNative.Mount("overlay", merged, "overlay", 0, data) != 0)
            {
                return "native";
            }

            LinuxNative.Unmount(merged, LinuxNative.MNT_DETACH);
            return "overlayfs";
        }
        finally
        {
            try
            {
                Directory.Delete(probe, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
