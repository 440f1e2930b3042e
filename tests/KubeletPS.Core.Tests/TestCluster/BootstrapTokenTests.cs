using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Auth;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.TestCluster;

/// <summary>Bootstrap tokens as kube-apiserver authenticates them and as kubeadm's RBAC lets them act.</summary>
public sealed class BootstrapTokenTests
{
    private const string Csrs = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

    internal static ApiClient WithToken(TestApiServer server, string token)
    {
        var http = server.CreateHttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new ApiClient(http);
    }

    [Fact]
    public async Task Valid_token_authenticates_as_bootstrap_user_with_kubeadm_groups()
    {
        await using var server = await TestObjects.StartServerAsync();
        var token = server.CreateBootstrapToken();
        using var client = WithToken(server, token);

        var created = (await client.PostAsync(Csrs, NodeCsrs.Csr("n1"))).Expect(HttpStatusCode.Created);

        Assert.Equal("system:bootstrap:" + token[..6], created["spec.username"]);
        Assert.Equal("""["system:bootstrappers","system:bootstrappers:kubeadm:default-node-token","system:authenticated"]""", created["spec.groups"]);
    }

    [Fact]
    public async Task Expired_token_is_unauthorized()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await TestObjects.StartServerAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki, TimeProvider = clock });
        var token = server.CreateBootstrapToken(TimeSpan.FromMinutes(5));
        using var client = WithToken(server, token);
        (await client.GetAsync(Csrs)).Expect(HttpStatusCode.OK);

        clock.Advance(TimeSpan.FromMinutes(6));

        var response = (await client.GetAsync(Csrs)).Expect(HttpStatusCode.Unauthorized);
        Assert.Equal("Unauthorized", response["reason"]);
    }

    [Fact]
    public async Task Wrong_secret_is_unauthorized()
    {
        await using var server = await TestObjects.StartServerAsync();
        var token = server.CreateBootstrapToken();
        using var client = WithToken(server, token[..7] + "0000000000000000");

        (await client.GetAsync(Csrs)).Expect(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData("zzzzzz.0123456789abcdef")]
    [InlineData("not-a-bootstrap-token")]
    public async Task UnknownOrMalformedTokenIsUnauthorizedNotAnonymous(string token)
    {
        await using var server = await TestObjects.StartServerAsync();
        server.CreateBootstrapToken();
        using var client = WithToken(server, token);

        // /version is open to anonymous users: a bad token must still be refused, not downgraded to anonymous.
        (await client.GetAsync("/version")).Expect(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Token_not_marked_for_authentication_is_unauthorized()
    {
        await using var server = await TestObjects.StartServerAsync();
        var secret = BootstrapTokenAuthenticator.TokenSecret("abcdef", "0123456789abcdef", null);
        ((JsonObject)secret["data"]!).Remove("usage-bootstrap-authentication");
        server.Store.Create("secrets", secret);
        using var client = WithToken(server, "abcdef.0123456789abcdef");

        (await client.GetAsync(Csrs)).Expect(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Bootstrapper_may_create_and_read_CSRs_but_not_read_nodes()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("nodes", TestObjects.Node("n1"));
        var token = server.CreateBootstrapToken();
        using var client = WithToken(server, token);

        var created = (await client.PostAsync(Csrs, NodeCsrs.Csr("n1"))).Expect(HttpStatusCode.Created);
        (await client.GetAsync($"{Csrs}/{created["metadata.name"]}")).Expect(HttpStatusCode.OK);
        (await client.GetAsync($"{Csrs}?watch=true&timeoutSeconds=1")).Expect(HttpStatusCode.OK);
        var nodes = (await client.GetAsync("/api/v1/nodes")).Expect(HttpStatusCode.Forbidden);
        var secrets = (await client.GetAsync("/api/v1/namespaces/kube-system/secrets")).Expect(HttpStatusCode.Forbidden);
        var approve = (await client.PutAsync($"{Csrs}/{created["metadata.name"]}/approval", created.Json)).Expect(HttpStatusCode.Forbidden);

        Assert.Contains($"User \"system:bootstrap:{token[..6]}\" cannot list resource \"nodes\"", nodes["message"]);
        Assert.Contains("cannot list resource \"secrets\"", secrets["message"]);
        Assert.Contains("cannot update resource \"certificatesigningrequests/approval\"", approve["message"]);
    }
}
