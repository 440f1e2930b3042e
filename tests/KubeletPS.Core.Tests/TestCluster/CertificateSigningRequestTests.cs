using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace KubeletPS.Core.Tests.TestCluster;

public sealed class CertificateSigningRequestTests
{
    private const string Csrs = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

    [Fact]
    public async Task Approved_kubelet_client_csr_is_signed_by_cluster_ca()
    {
        // Manual approval: the auto-approver is off here (NodeCsrApprovalTests covers it).
        await using var server = await TestObjects.StartServerAsync(new KubeletPS.TestCluster.Server.TestApiServerOptions
        {
            Pki = TestObjects.SharedPki, ApproveNodeClientCertificateRequests = false,
        });
        using var node = ApiClient.Node(server, "n1");
        using var admin = ApiClient.Admin(server);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("O=system:nodes, CN=system:node:n1", key, HashAlgorithmName.SHA256);
        var csr = new JsonObject
        {
            ["apiVersion"] = "certificates.k8s.io/v1",
            ["kind"] = "CertificateSigningRequest",
            ["metadata"] = new JsonObject { ["generateName"] = "csr-" },
            ["spec"] = new JsonObject
            {
                ["request"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(request.CreateSigningRequestPem())),
                ["signerName"] = "kubernetes.io/kube-apiserver-client-kubelet",
                ["usages"] = new JsonArray("digital signature", "client auth"),
                ["expirationSeconds"] = 86400,
            },
        };

        var created = (await node.PostAsync(Csrs, csr)).Expect(HttpStatusCode.Created);
        var name = created["metadata.name"]!;
        Assert.StartsWith("csr-", name);
        Assert.Equal("system:node:n1", created["spec.username"]);
        Assert.Null(created["status.certificate"]);

        var approval = created.Json;
        approval["status"] = new JsonObject
        {
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Approved", ["status"] = "True", ["reason"] = "AutoApproved", ["message"] = "test" }),
        };
        (await admin.PutAsync($"{Csrs}/{name}/approval", approval)).Expect(HttpStatusCode.OK);
        var signed = (await node.GetAsync($"{Csrs}/{name}")).Expect(HttpStatusCode.OK);

        var pem = Encoding.UTF8.GetString(Convert.FromBase64String(signed["status.certificate"]!));
        using var cert = X509Certificate2.CreateFromPem(pem);
        Assert.Equal("system:node:n1", cert.GetNameInfo(X509NameType.SimpleName, false));
        Assert.InRange(cert.NotAfter.ToUniversalTime() - DateTime.UtcNow, TimeSpan.FromHours(23), TimeSpan.FromHours(25));
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(server.Pki.CA.Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2"));
        Assert.True(chain.Build(cert), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));

        // The signed certificate authenticates as the node.
        using var renewed = ApiClient.WithCertificate(server, new KubeletPS.TestCluster.Pki.IssuedCertificate(cert, key));
        (await renewed.GetAsync("/api/v1/nodes")).Expect(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Node_may_not_approve_its_own_csr()
    {
        await using var server = await TestObjects.StartServerAsync();
        server.Store.Create("certificatesigningrequests", new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "x" },
            ["spec"] = new JsonObject { ["signerName"] = "kubernetes.io/kube-apiserver-client-kubelet", ["request"] = "" },
        });
        using var node = ApiClient.Node(server, "n1");

        var response = (await node.PutAsync($"{Csrs}/x/approval", server.Store.Get("certificatesigningrequests", null, "x")!)).Expect(HttpStatusCode.Forbidden);

        Assert.Contains("cannot update resource \"certificatesigningrequests/approval\" in API group \"certificates.k8s.io\" at the cluster scope", response["message"]);
    }
}
