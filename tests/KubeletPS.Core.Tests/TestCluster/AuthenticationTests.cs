using System.Net;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Pki;

namespace KubeletPS.Core.Tests.TestCluster;

public sealed class AuthenticationTests
{
    [Fact]
    public async Task Anonymous_request_for_root_is_forbidden_with_status_body()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var anonymous = ApiClient.Anonymous(server);

        var response = (await anonymous.GetAsync("/")).Expect(HttpStatusCode.Forbidden);

        Assert.Equal("application/json", response.ContentType);
        var expected = JsonNode.Parse("""
            {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"forbidden: User \"system:anonymous\" cannot get path \"/\"","reason":"Forbidden","details":{},"code":403}
            """);
        Assert.True(JsonNode.DeepEquals(expected, response.Json), response.Body);
    }

    [Fact]
    public async Task Anonymous_resource_request_names_resource_and_scope()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var anonymous = ApiClient.Anonymous(server);

        var node = (await anonymous.GetAsync("/api/v1/nodes/x")).Expect(HttpStatusCode.Forbidden);
        var lease = (await anonymous.GetAsync("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/x")).Expect(HttpStatusCode.Forbidden);

        Assert.Equal("nodes \"x\" is forbidden: User \"system:anonymous\" cannot get resource \"nodes\" in API group \"\" at the cluster scope", node["message"]);
        Assert.Equal("x", node["details.name"]);
        Assert.Equal("nodes", node["details.kind"]);
        Assert.Equal("leases.coordination.k8s.io \"x\" is forbidden: User \"system:anonymous\" cannot get resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"kube-node-lease\"", lease["message"]);
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/livez")]
    [InlineData("/readyz")]
    public async Task Anonymous_may_read_health(string path)
    {
        await using var server = await TestObjects.StartServerAsync();
        using var anonymous = ApiClient.Anonymous(server);

        var response = (await anonymous.GetAsync(path)).Expect(HttpStatusCode.OK);

        Assert.Equal("ok", response.Body);
    }

    [Fact]
    public async Task Anonymous_may_read_version()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var anonymous = ApiClient.Anonymous(server);

        var version = (await anonymous.GetAsync("/version")).Expect(HttpStatusCode.OK);

        Assert.Equal("v1.32.0", version["gitVersion"]);
        Assert.Equal("32", version["minor"]);
    }

    [Fact]
    public async Task Node_certificate_is_authenticated_for_discovery()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var node = ApiClient.Node(server, "worker-1");

        var api = (await node.GetAsync("/api")).Expect(HttpStatusCode.OK);
        var v1 = (await node.GetAsync("/api/v1")).Expect(HttpStatusCode.OK);
        var groups = (await node.GetAsync("/apis")).Expect(HttpStatusCode.OK);

        Assert.Equal("APIVersions", api["kind"]);
        Assert.Equal("v1", api["versions.0"]);
        Assert.Equal("APIResourceList", v1["kind"]);
        var pods = v1.Json["resources"]!.AsArray().Single(r => r!["name"]!.GetValue<string>() == "pods")!;
        Assert.Equal("po", pods["shortNames"]![0]!.GetValue<string>());
        Assert.True(pods["namespaced"]!.GetValue<bool>());
        Assert.Contains(v1.Json["resources"]!.AsArray(), r => r!["name"]!.GetValue<string>() == "nodes/status");
        Assert.Contains(groups.Json["groups"]!.AsArray(), g => g!["name"]!.GetValue<string>() == "coordination.k8s.io");
        Assert.Contains(groups.Json["groups"]!.AsArray(), g => g!["name"]!.GetValue<string>() == "certificates.k8s.io");
    }

    [Fact]
    public async Task Certificate_from_another_ca_is_unauthorized()
    {
        await using var server = await TestObjects.StartServerAsync();
        var otherCa = new ClusterPki("other-ca", TestKeyType.EcP256);
        using var stranger = ApiClient.WithCertificate(server, otherCa.IssueNode("worker-1"));

        var response = (await stranger.GetAsync("/api")).Expect(HttpStatusCode.Unauthorized);

        Assert.Equal("Unauthorized", response["reason"]);
        Assert.Equal("401", response["code"]);
    }

    [Fact]
    public async Task Expired_certificate_is_unauthorized()
    {
        await using var server = await TestObjects.StartServerAsync();
        var expired = server.Pki.Issue(new CertificateSpec("system:node:old")
        {
            Organizations = ["system:nodes"],
            NotBefore = DateTimeOffset.UtcNow.AddDays(-10),
            NotAfter = DateTimeOffset.UtcNow.AddDays(-1),
        });
        using var client = ApiClient.WithCertificate(server, expired);

        (await client.GetAsync("/api")).Expect(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Certificate_without_client_auth_usage_is_unauthorized()
    {
        await using var server = await TestObjects.StartServerAsync();
        var serverOnly = server.Pki.Issue(new CertificateSpec("system:node:n1") { Organizations = ["system:nodes"], ClientAuth = false, ServerAuth = true });
        using var client = ApiClient.WithCertificate(server, serverOnly);

        (await client.GetAsync("/api")).Expect(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task User_without_grants_is_forbidden_on_resources()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var jane = ApiClient.WithCertificate(server, server.IssueClientCertificate("jane", "developers"));

        (await jane.GetAsync("/api")).Expect(HttpStatusCode.OK);
        var response = (await jane.GetAsync("/api/v1/namespaces/default/pods")).Expect(HttpStatusCode.Forbidden);

        Assert.Equal("pods is forbidden: User \"jane\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"", response["message"]);
    }
}
