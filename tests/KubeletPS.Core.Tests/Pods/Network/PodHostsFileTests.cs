using k8s.Models;
using KubeletPS.Core.Pods.Network;

namespace KubeletPS.Core.Tests.Pods.Network;

public sealed class PodHostsFileTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kps-hosts-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static V1Pod Pod(bool hostNetwork = false, string? subdomain = null, params V1HostAlias[] aliases) => new()
    {
        Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "shop", Uid = "uid-1" },
        Spec = new V1PodSpec { HostNetwork = hostNetwork, Subdomain = subdomain, HostAliases = aliases.Length == 0 ? null : aliases.ToList(), Containers = [] },
    };

    [Fact]
    public void Pod_network_pod_gets_the_managed_file_with_its_ip_and_hostname()
    {
        var hosts = new PodHostsFile(_root, "cluster.local");
        var path = hosts.Ensure(Pod(), "web", "10.88.0.7");

        Assert.Equal(Path.Combine(_root, "pods", "uid-1", "etc-hosts"), path);
        Assert.Equal("""
            # Kubernetes-managed hosts file.
            127.0.0.1	localhost
            ::1	localhost ip6-localhost ip6-loopback
            fe00::0	ip6-localnet
            fe00::0	ip6-mcastprefix
            fe00::1	ip6-allnodes
            fe00::2	ip6-allrouters
            10.88.0.7	web

            """.ReplaceLineEndings("\n"), File.ReadAllText(path!));
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(path!));
    }

    [Fact]
    public void A_hosts_file_a_container_grew_is_replaced_without_reading_it()
    {
        // The file is mounted read-write into every container of the pod (as kubelet mounts it): a
        // container can make it as large as the disk allows, and the agent compares it with the
        // managed content before each container start.
        var hosts = new PodHostsFile(_root, "cluster.local");
        var path = hosts.Ensure(Pod(), "web", "10.88.0.7")!;
        var managed = File.ReadAllText(path);
        using (var grown = File.OpenWrite(path)) grown.SetLength(256L * 1024 * 1024); // sparse: no disk used

        var before = GC.GetAllocatedBytesForCurrentThread();
        hosts.Ensure(Pod(), "web", "10.88.0.7");
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(managed, File.ReadAllText(path));
        Assert.True(allocated < 4 * 1024 * 1024, $"allocated {allocated / 1024} KiB to compare a 256 MiB hosts file");
    }

    [Fact]
    public void Subdomain_gives_the_fqdn_and_host_aliases_come_last()
    {
        var hosts = new PodHostsFile(_root, "cluster.local");
        var content = hosts.ManagedContent(Pod(subdomain: "db", aliases: [new V1HostAlias { Ip = "127.0.0.1", Hostnames = ["foo.local", "bar.local"] }, new V1HostAlias { Ip = "10.1.2.3", Hostnames = ["foo.remote"] }]), "web", "10.88.0.7");

        Assert.Contains("\n10.88.0.7\tweb.db.shop.svc.cluster.local\tweb\n", content);
        Assert.EndsWith("\n\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\n", content);
    }

    [Fact]
    public void Host_network_pod_gets_the_nodes_hosts_file_plus_its_aliases()
    {
        Directory.CreateDirectory(_root);
        var node = Path.Combine(_root, "node-hosts");
        File.WriteAllText(node, "127.0.0.1 localhost\n192.168.1.10 node1");
        var hosts = new PodHostsFile(_root, "cluster.local", node);

        var path = hosts.Ensure(Pod(hostNetwork: true, aliases: new V1HostAlias { Ip = "10.1.2.3", Hostnames = ["registry.local"] }), "ignored", null);

        Assert.Equal("127.0.0.1 localhost\n192.168.1.10 node1\n\n# Entries added by HostAliases.\n10.1.2.3\tregistry.local\n", File.ReadAllText(path!));
    }

    [Fact]
    public void No_file_until_the_pod_has_an_ip()
    {
        var hosts = new PodHostsFile(_root, "cluster.local");
        Assert.Null(hosts.Ensure(Pod(), "web", null));
        Assert.False(File.Exists(hosts.PathFor("uid-1")));
    }

    [Fact]
    public async Task Containers_starting_together_all_get_the_file()
    {
        var hosts = new PodHostsFile(_root, "cluster.local");
        var paths = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => hosts.Ensure(Pod(), "web", "10.88.0.7"))));
        Assert.All(paths, p => Assert.Equal(hosts.PathFor("uid-1"), p));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(hosts.PathFor("uid-1"))!));
    }
}
