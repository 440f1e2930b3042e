using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Auth;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Server.Auth;

/// <summary>Webhook authentication (TokenReview) and authorization (SubjectAccessReview) of the kubelet port against the test API server.</summary>
public sealed class KubeletServerReviewTests : IAsyncLifetime
{
    private const string Viewer = "system:serviceaccount:default:viewer";
    private TestApiServer _api = null!;

    public async Task InitializeAsync() => _api = await TestApiServer.StartAsync(new TestApiServerOptions
    {
        Rules = [new PolicyRule { Users = [Viewer], Verbs = ["get"], ApiGroups = [""], Resources = ["nodes/proxy"] }],
    });

    public async Task DisposeAsync() => await _api.DisposeAsync();

    private int Reviews(string resource) => _api.RequestLog.Count("create", resource);

    [Fact]
    public async Task Another_nodes_certificate_is_forbidden_nodes_proxy_of_this_node_by_the_SubjectAccessReview()
    {
        await using var host = await KubeletServerTestHost.StartAsync(_api);
        using var client = host.Client(_api.Pki.IssueNode("other-node"));
        var response = await client.GetAsync("/pods");
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("Forbidden (user=system:node:other-node, verb=get, resource=nodes, subresource=proxy)", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, Reviews("subjectaccessreviews"));
        // The denial is cached for cacheUnauthorizedTTL.
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/pods")).StatusCode);
        Assert.Equal(1, Reviews("subjectaccessreviews"));
    }

    [Fact]
    public async Task An_allowed_decision_is_cached_a_second_request_sends_no_SubjectAccessReview()
    {
        await using var host = await KubeletServerTestHost.StartAsync(_api);
        using var client = host.Client(_api.KubeletClientCertificate);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(1, Reviews("subjectaccessreviews"));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/pods")).StatusCode);
        Assert.Equal(1, Reviews("subjectaccessreviews"));
        Assert.Equal(1, host.Server.Authorizer.Reviews);
        // /metrics is another subresource: a new review.
        await client.GetAsync("/metrics");
        Assert.Equal(2, Reviews("subjectaccessreviews"));
    }

    [Fact]
    public async Task A_service_account_token_is_reviewed_and_allowed_and_the_review_cached()
    {
        await using var host = await KubeletServerTestHost.StartAsync(_api);
        var (admin, _) = TestApiClients.ForAdmin(_api);
        await admin.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "viewer" } }, "default");
        var token = (await admin.CoreV1.CreateNamespacedServiceAccountTokenAsync(new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec() }, "viewer", "default")).Status.Token;
        using var client = host.Client(bearer: token);
        var response = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, Reviews("tokenreviews"));
        // Allowed only what the rule grants: nodes/metrics is another subresource.
        var metrics = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.Forbidden, metrics.StatusCode);
        Assert.Equal($"Forbidden (user={Viewer}, verb=get, resource=nodes, subresource=metrics)", await metrics.Content.ReadAsStringAsync());
        Assert.Equal(1, Reviews("tokenreviews"));
    }

    [Fact]
    public async Task An_invalid_token_is_401_Unauthorized()
    {
        await using var host = await KubeletServerTestHost.StartAsync(_api, o => o with { AnonymousEnabled = true });
        var (admin, _) = TestApiClients.ForAdmin(_api);
        await admin.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "viewer" } }, "default");
        var token = (await admin.CoreV1.CreateNamespacedServiceAccountTokenAsync(new Authenticationv1TokenRequest { Spec = new V1TokenRequestSpec() }, "viewer", "default")).Status.Token;
        // The same claims with another signature, and plain garbage.
        foreach (var forged in new[] { token[..token.LastIndexOf('.')] + ".AAAA", "not-a-token" })
        {
            using var client = host.Client(bearer: forged);
            var response = await client.GetAsync("/healthz");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("Unauthorized", await response.Content.ReadAsStringAsync());
        }
        Assert.Equal(2, Reviews("tokenreviews"));
    }

    [Fact]
    public async Task The_API_servers_proxy_refuses_a_kubelet_whose_certificate_is_not_of_the_CA_it_verifies_against()
    {
        await using var verifying = await TestApiServer.StartAsync(new TestApiServerOptions { KubeletCertificateAuthority = _api.Pki.CA.Certificate, Pki = _api.Pki });
        await using var host = await KubeletServerTestHost.StartAsync(verifying);
        RegisterNode(verifying, host.Server.Port);
        RegisterNode(_api, host.Server.Port);
        using var admin = verifying.CreateHttpClient(verifying.IssueClientCertificate("kubernetes-admin", UserInfo.Masters));
        var refused = await admin.GetAsync($"/api/v1/nodes/{KubeletServerTestHost.NodeName}/proxy/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Contains("SSL", await refused.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);

        // kubeadm's default (no --kubelet-certificate-authority) does not verify the self-signed kubelet.crt.
        using var kubeadmAdmin = _api.CreateHttpClient(_api.IssueClientCertificate("kubernetes-admin", UserInfo.Masters));
        var answered = await kubeadmAdmin.GetAsync($"/api/v1/nodes/{KubeletServerTestHost.NodeName}/proxy/healthz");
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        Assert.Equal("ok", await answered.Content.ReadAsStringAsync());
    }

    private static void RegisterNode(TestApiServer api, int port) => api.Store.Create("nodes", JsonNode.Parse(
        "{\"metadata\":{\"name\":\"" + KubeletServerTestHost.NodeName + "\"},\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"127.0.0.1\"}]," +
        "\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":" + port + "}}}}")!.AsObject());
}
