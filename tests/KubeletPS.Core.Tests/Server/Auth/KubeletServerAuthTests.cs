using System.Net;
using KubeletPS.Core.Server;
using KubeletPS.Core.Server.Auth;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Server.Auth;

/// <summary>The kubelet port attacked directly: who gets in, with kubelet's 401 and 403 bodies.</summary>
public sealed class KubeletServerAuthTests : IAsyncLifetime
{
    private TestApiServer _api = null!;

    public async Task InitializeAsync() => _api = await TestApiServer.StartAsync();

    public async Task DisposeAsync() => await _api.DisposeAsync();

    [Fact]
    public async Task An_anonymous_request_is_refused_401_Unauthorized()
    {
        await using var host = await KubeletServerTestHost.StartAsync(_api);
        using var client = host.Client();
        foreach (var path in new[] { "/healthz", "/pods", "/configz", "/containerLogs/default/web/main", "/nothing" })
        {
            var response = await client.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Unauthorized", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task An_anonymous_request_is_answered_when_anonymous_authentication_is_enabled()
    {
        await using var host = await KubeletServerTestHost.StartAsync(_api, o => o with { AnonymousEnabled = true, AuthorizationMode = "AlwaysAllow" });
        using var client = host.Client();
        var response = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/nothing")).StatusCode);
    }

    [Fact]
    public async Task A_client_certificate_from_another_CA_is_refused_even_with_anonymous_enabled()
    {
        await using var host = await KubeletServerTestHost.StartAsync(_api, o => o with { AnonymousEnabled = true, AuthorizationMode = "AlwaysAllow" });
        var otherCa = new ClusterPki("attacker-ca");
        using var client = host.Client(otherCa.Issue(new CertificateSpec("system:kube-apiserver") { Organizations = ["system:masters"] }));
        var response = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Unauthorized", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_client_certificate_of_the_cluster_CA_authenticates_as_its_CN()
    {
        await using var host = await KubeletServerTestHost.StartAsync(_api, o => o with { AuthorizationMode = "AlwaysAllow" });
        using var client = host.Client(_api.IssueClientCertificate("kube-apiserver-kubelet-client", "system:masters"));
        var response = await client.GetAsync("/healthz?verbose");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("[+]ping ok\n[+]log ok\nhealthz check passed\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Healthz_is_served_in_plain_HTTP_on_the_healthz_port_without_credentials()
    {
        await using var host = await KubeletServerTestHost.StartAsync(_api);
        using var client = new HttpClient();
        var response = await client.GetAsync($"http://127.0.0.1:{host.Server.HealthzPort}/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"http://127.0.0.1:{host.Server.HealthzPort}/pods")).StatusCode);
    }

    [Fact]
    public async Task A_port_in_use_is_a_config_error_naming_the_address_and_the_field()
    {
        await using var first = await KubeletServerTestHost.StartAsync(_api);
        var e = await Assert.ThrowsAsync<KubeletConfigException>(() => KubeletServerTestHost.StartAsync(_api, o => o with { Port = first.Server.Port }));
        Assert.Equal("port", e.Field);
        Assert.Contains($"127.0.0.1:{first.Server.Port}", e.Message);
        Assert.Contains("already in use", e.Message);
    }

    [Fact]
    public void Every_registered_endpoint_asks_for_the_subresource_kubelet_maps_its_path_to()
    {
        foreach (var endpoint in KubeletServerRoutes.All)
        {
            var mapped = KubeletRequestAttributes.For(KubeletUser.Anonymous, "GET", endpoint.Path, "n").Subresource;
            Assert.True(mapped == endpoint.Subresource, $"{endpoint.Path}: registered {endpoint.Subresource}, kubelet maps it to {mapped}");
        }
    }
}
