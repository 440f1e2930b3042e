using KubeletPS.Core.Pods.Images;

namespace KubeletPS.Core.Tests.Pods.Images;

/// <summary>Kubelet's keyring_test.go cases: host, port, path prefix, wildcard labels, scheme and /v1/ handling, Docker Hub.</summary>
public sealed class DockerKeyringTests
{
    [Theory]
    [InlineData("*.kubernetes.io", "prefix.kubernetes.io", true)]
    [InlineData("prefix.*.io", "prefix.kubernetes.io", true)]
    [InlineData("prefix.kubernetes.*", "prefix.kubernetes.io", true)]
    [InlineData("*-good.kubernetes.io", "prefix-good.kubernetes.io", true)]
    [InlineData("*.kubernetes.io/blah", "prefix.kubernetes.io/blah/blah", true)]
    [InlineData("prefix.*.io/foo", "prefix.kubernetes.io/foo/bar", true)]
    [InlineData("*.kubernetes.io:1111/blah", "prefix.kubernetes.io:1111/blah", true)]
    [InlineData("prefix.*.io:1111/foo", "prefix.kubernetes.io:1111/foo/bar", true)]
    [InlineData("kubernetes.io", "kubernetes.io", true)]
    [InlineData("*.kubernetes.io", "kubernetes.io", false)]
    [InlineData("*.*.kubernetes.io", "prefix.kubernetes.io", false)]
    [InlineData("*.*.kubernetes.io", "kubernetes.io", false)]
    [InlineData("*kubernetes.io", "a.kubernetes.io", false)]
    [InlineData("*-good.kubernetes.io", "prefix-bad.kubernetes.io", false)]
    [InlineData("*.kubernetes.io/blah", "prefix.kubernetes.io/foo", false)]
    [InlineData("*.kubernetes.io:1111", "prefix.kubernetes.io:2222", false)]
    [InlineData("*.kubernetes.io:1111", "prefix.kubernetes.io", false)]
    [InlineData("127.0.0.1:5000", "127.0.0.1:5000/test/busybox", true)]
    [InlineData("127.0.0.1:5000", "127.0.0.1:5001/test/busybox", false)]
    [InlineData("127.0.0.1", "127.0.0.1:5000/test/busybox", false)]
    [InlineData("[a.kubernetes.io", "a.kubernetes.io", false)]
    [InlineData("kubernetes.io:port", "kubernetes.io:port", false)]
    public void Urls_match_as_kubelets_URLsMatchStr(string glob, string target, bool matches)
        => Assert.Equal(matches, DockerKeyring.UrlsMatch(glob, target));

    private static DockerConfigEntry User(string name) => new(name, name + "-password");

    private static DockerKeyring Keyring(params (string Location, string User)[] entries)
    {
        var keyring = new DockerKeyring();
        keyring.Add(entries.ToDictionary(e => e.Location, e => User(e.User)));
        return keyring;
    }

    [Theory]
    [InlineData("bar.example.com/pong", "grace,ada")]
    [InlineData("bar.example.com/ponger", "grace,ada")]
    [InlineData("bar.example.com/pong/bar", "grace,ada")]
    [InlineData("bar.example.com", "ada")]
    [InlineData("bar.example.com/pon", "ada")]
    [InlineData("bar.example.com/ping", "ada")]
    [InlineData("example.com", "")]
    [InlineData("foo.example.com", "")]
    [InlineData("bar.example.com:5000/pong", "")]
    public void Lookup_returns_the_most_specific_location_first(string image, string users)
    {
        // keyring_test.go TestDockerKeyringLookup: the schemes and a /v1/ suffix are dropped when added.
        var keyring = Keyring(("bar.example.com/pong", "grace"), ("https://bar.example.com/v1/", "ada"));
        Assert.Equal(users, string.Join(",", keyring.Lookup(image).Select(e => e.Username)));
    }

    [Fact]
    public void A_v1_or_v2_path_is_the_bare_host_and_the_scheme_is_ignored()
    {
        // TestIssue3797: "https://quay.io/v1/" is quay.io.
        Assert.Equal(["quay"], Keyring(("https://quay.io/v1/", "quay")).Lookup("quay.io/foo/bar").Select(e => e.Username));
        Assert.Equal(["v2"], Keyring(("http://registry.local:5000/v2/", "v2")).Lookup("registry.local:5000/team/app").Select(e => e.Username));
        Assert.Equal(["sub"], Keyring(("https://quay.io/v1/coreos", "sub")).Lookup("quay.io/coreos/etcd").Select(e => e.Username));
        Assert.Empty(Keyring(("https://quay.io/v1/coreos", "sub")).Lookup("quay.io/other/etcd"));
    }

    [Fact]
    public void Wildcard_subdomains_match_one_label_each()
    {
        var keyring = Keyring(("*.docker.example", "any"), ("https://prefix.*.example:8888", "port"));
        Assert.Equal(["any"], keyring.Lookup("world.docker.example/foo/bar").Select(e => e.Username));
        Assert.Empty(keyring.Lookup("docker.example/foo"));
        Assert.Empty(keyring.Lookup("a.b.docker.example/foo"));
        Assert.Equal(["port"], keyring.Lookup("prefix.other.example:8888/foo").Select(e => e.Username));
        Assert.Empty(keyring.Lookup("prefix.other.example/foo"));
    }

    [Fact]
    public void Docker_hub_credentials_serve_docker_hub_images_only()
    {
        var keyring = Keyring(("https://index.docker.io/v1/", "hub"));
        Assert.Equal(["hub"], keyring.Lookup(ImageReference.Repository("busybox")).Select(e => e.Username));
        Assert.Equal(["hub"], keyring.Lookup(ImageReference.Repository("team/app:1.0")).Select(e => e.Username));
        Assert.Empty(keyring.Lookup(ImageReference.Repository("quay.io/team/app")));
        Assert.Empty(keyring.Lookup(ImageReference.Repository("localhost:5000/app")));
    }

    [Fact]
    public void Two_configs_for_one_location_give_both_in_order()
    {
        var keyring = new DockerKeyring();
        keyring.Add(new Dictionary<string, DockerConfigEntry> { ["registry.local"] = User("first") });
        keyring.Add(new Dictionary<string, DockerConfigEntry> { ["https://registry.local"] = User("second") });
        Assert.Equal(["first", "second"], keyring.Lookup("registry.local/app").Select(e => e.Username));
    }

    [Theory]
    [InlineData("busybox", "docker.io/library/busybox")]
    [InlineData("busybox:1.36", "docker.io/library/busybox")]
    [InlineData("team/app@sha256:abcd", "docker.io/team/app")]
    [InlineData("index.docker.io/library/busybox:latest", "docker.io/library/busybox")]
    [InlineData("127.0.0.1:5000/test/busybox:v1", "127.0.0.1:5000/test/busybox")]
    [InlineData("localhost/app", "localhost/app")]
    [InlineData("registry.local:5000/app", "registry.local:5000/app")]
    public void Images_are_normalized_to_their_repository(string image, string repository)
        => Assert.Equal(repository, ImageReference.Repository(image));
}
