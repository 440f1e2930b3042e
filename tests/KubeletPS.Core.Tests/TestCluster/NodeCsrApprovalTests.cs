using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.TestCluster;

/// <summary>CSRs as a kubelet sends them, for the approval tests.</summary>
internal static class NodeCsrs
{
    public const string ClientSigner = "kubernetes.io/kube-apiserver-client-kubelet";

    public static JsonObject Csr(string node, string signer = ClientSigner, string[]? usages = null, string? subject = null, long? expirationSeconds = null,
        string? dnsName = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject ?? $"O=system:nodes, CN=system:node:{node}", key, HashAlgorithmName.SHA256);
        if (dnsName is not null)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName(dnsName);
            request.CertificateExtensions.Add(san.Build());
        }
        var spec = new JsonObject
        {
            ["request"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(request.CreateSigningRequestPem())),
            ["signerName"] = signer,
            ["usages"] = new JsonArray((usages ?? ["digital signature", "client auth"]).Select(u => (JsonNode)u).ToArray()),
        };
        if (expirationSeconds is { } s) spec["expirationSeconds"] = s;
        return new JsonObject
        {
            ["apiVersion"] = "certificates.k8s.io/v1",
            ["kind"] = "CertificateSigningRequest",
            ["metadata"] = new JsonObject { ["generateName"] = "csr-" },
            ["spec"] = spec,
        };
    }

    public static X509Certificate2 Issued(ApiClient.Response csr) =>
        X509Certificate2.CreateFromPem(Encoding.UTF8.GetString(Convert.FromBase64String(csr["status.certificate"]!)));
}

/// <summary>kube-controller-manager's csrapproving (node client CSRs) and csrsigning as the test API server runs them.</summary>
public sealed class NodeCsrApprovalTests
{
    private const string Csrs = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

    [Fact]
    public async Task Bootstrapper_client_CSR_is_auto_approved_and_issued()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var client = BootstrapTokenTests.WithToken(server, server.CreateBootstrapToken());

        var created = (await client.PostAsync(Csrs, NodeCsrs.Csr("n1"))).Expect(HttpStatusCode.Created);
        var csr = (await client.GetAsync($"{Csrs}/{created["metadata.name"]}")).Expect(HttpStatusCode.OK);

        Assert.Equal("Approved", csr["status.conditions.0.type"]);
        Assert.Equal("AutoApproved", csr["status.conditions.0.reason"]);
        Assert.Equal("Auto approving kubelet client certificate after SubjectAccessReview.", csr["status.conditions.0.message"]);
        using var cert = NodeCsrs.Issued(csr);
        Assert.Equal("system:node:n1", cert.GetNameInfo(X509NameType.SimpleName, false));
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(server.Pki.CA.Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(chain.Build(cert), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));
    }

    [Fact]
    public async Task Node_renewal_is_approved_as_selfnodeclient()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var node = ApiClient.Node(server, "n1");

        var created = (await node.PostAsync(Csrs, NodeCsrs.Csr("n1"))).Expect(HttpStatusCode.Created);
        var csr = (await node.GetAsync($"{Csrs}/{created["metadata.name"]}")).Expect(HttpStatusCode.OK);

        Assert.Equal("Auto approving self kubelet client certificate after SubjectAccessReview.", csr["status.conditions.0.message"]);
        Assert.NotNull(csr["status.certificate"]);
    }

    public static TheoryData<string, JsonObject> NotNodeClientCsrs() => new()
    {
        { "serving signer", NodeCsrs.Csr("n1", signer: "kubernetes.io/kubelet-serving", usages: ["digital signature", "server auth"], dnsName: "n1") },
        { "server auth usage", NodeCsrs.Csr("n1", usages: ["digital signature", "client auth", "server auth"]) },
        { "other organization", NodeCsrs.Csr("n1", subject: "O=system:masters, CN=system:node:n1") },
        { "not a node name", NodeCsrs.Csr("n1", subject: "O=system:nodes, CN=admin") },
        { "a DNS SAN", NodeCsrs.Csr("n1", dnsName: "n1.example") },
    };

    [Theory]
    [MemberData(nameof(NotNodeClientCsrs))]
    public async Task CsrsThatAreNotNodeClientCsrsWaitForAnApprover(string what, JsonObject body)
    {
        await using var server = await TestObjects.StartServerAsync();
        using var client = BootstrapTokenTests.WithToken(server, server.CreateBootstrapToken());

        var created = (await client.PostAsync(Csrs, body)).Expect(HttpStatusCode.Created);
        var csr = (await client.GetAsync($"{Csrs}/{created["metadata.name"]}")).Expect(HttpStatusCode.OK);

        Assert.True(csr["status.conditions"] is null && csr["status.certificate"] is null, $"{what}: {csr.Body}");
    }

    [Fact]
    public async Task ANodeCannotGetAClientCertificateForAnotherNodeApproved()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var node = ApiClient.Node(server, "n1");

        // Not selfnodeclient (CN is another node), and system:nodes may not create /nodeclient.
        var created = (await node.PostAsync(Csrs, NodeCsrs.Csr("n2"))).Expect(HttpStatusCode.Created);
        var csr = (await node.GetAsync($"{Csrs}/{created["metadata.name"]}")).Expect(HttpStatusCode.OK);

        Assert.Null(csr["status.conditions"]);
    }

    [Fact]
    public async Task Issued_lifetime_is_the_shorter_of_signer_TTL_and_expirationSeconds()
    {
        await using var server = await TestObjects.StartServerAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki, ClientCertificateTtl = TimeSpan.FromHours(1) });
        using var client = BootstrapTokenTests.WithToken(server, server.CreateBootstrapToken());

        var longer = (await client.PostAsync(Csrs, NodeCsrs.Csr("n1", expirationSeconds: 86400))).Expect(HttpStatusCode.Created);
        var shorter = (await client.PostAsync(Csrs, NodeCsrs.Csr("n1", expirationSeconds: 900))).Expect(HttpStatusCode.Created);
        var tooShort = (await client.PostAsync(Csrs, NodeCsrs.Csr("n1", expirationSeconds: 599))).Expect(HttpStatusCode.UnprocessableEntity);
        using var longCert = NodeCsrs.Issued((await client.GetAsync($"{Csrs}/{longer["metadata.name"]}")).Expect(HttpStatusCode.OK));
        using var shortCert = NodeCsrs.Issued((await client.GetAsync($"{Csrs}/{shorter["metadata.name"]}")).Expect(HttpStatusCode.OK));

        Assert.InRange(longCert.NotAfter.ToUniversalTime() - DateTime.UtcNow, TimeSpan.FromMinutes(55), TimeSpan.FromMinutes(61));
        Assert.InRange(shortCert.NotAfter.ToUniversalTime() - DateTime.UtcNow, TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(16));
        Assert.Contains("spec.expirationSeconds", tooShort["message"]);
    }

    [Fact]
    public async Task Serving_CSR_is_issued_after_manual_approval_and_a_denied_CSR_never()
    {
        await using var server = await TestObjects.StartServerAsync();
        using var node = ApiClient.Node(server, "n1");
        using var admin = ApiClient.Admin(server);
        var serving = (await node.PostAsync(Csrs, NodeCsrs.Csr("n1", signer: "kubernetes.io/kubelet-serving",
            usages: ["digital signature", "server auth"], dnsName: "n1"))).Expect(HttpStatusCode.Created);
        var denied = (await admin.PostAsync(Csrs, NodeCsrs.Csr("n3", signer: "kubernetes.io/kubelet-serving",
            usages: ["digital signature", "server auth"], dnsName: "n3"))).Expect(HttpStatusCode.Created);

        var approve = serving.Json;
        approve["status"] = new JsonObject { ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Approved", ["status"] = "True", ["reason"] = "KubectlApprove" }) };
        (await admin.PutAsync($"{Csrs}/{serving["metadata.name"]}/approval", approve)).Expect(HttpStatusCode.OK);
        var deny = denied.Json;
        deny["status"] = new JsonObject { ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Denied", ["status"] = "True", ["reason"] = "KubectlDeny" }) };
        (await admin.PutAsync($"{Csrs}/{denied["metadata.name"]}/approval", deny)).Expect(HttpStatusCode.OK);

        Assert.NotNull((await node.GetAsync($"{Csrs}/{serving["metadata.name"]}")).Expect(HttpStatusCode.OK)["status.certificate"]);
        var deniedNow = (await admin.GetAsync($"{Csrs}/{denied["metadata.name"]}")).Expect(HttpStatusCode.OK);
        Assert.Null(deniedNow["status.certificate"]);
        Assert.Equal("Denied", deniedNow["status.conditions.0.type"]);
    }
}
