using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Auth;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Server.Controllers;

/// <summary>
/// kube-controller-manager's csrapproving and csrsigning controllers, run inline after a CSR is written.
/// Approval (pkg/controller/certificates/approver/sarapprove.go): a kubelet client CSR (signer
/// kubernetes.io/kube-apiserver-client-kubelet, O exactly system:nodes, CN system:node:..., no SANs, usages exactly
/// digital signature + client auth, optionally key encipherment) is approved when a SubjectAccessReview lets its creator
/// create certificatesigningrequests/selfnodeclient (the CN is the creator: a renewal) or /nodeclient (a bootstrapper).
/// Serving CSRs are never auto-approved. Signing: an approved, not denied or failed CSR of a kubelet signer gets a
/// certificate from the cluster CA for min(the signer's lifetime, spec.expirationSeconds), at least 10 minutes.
/// </summary>
internal sealed class CertificateSigningController(ObjectStore store, ClusterPki pki, IAuthorizer authorizer, TestApiServerOptions options, ILogger logger)
{
    public const string ClientKubeletSigner = "kubernetes.io/kube-apiserver-client-kubelet";
    public const string NodeClientMessage = "Auto approving kubelet client certificate after SubjectAccessReview.";
    public const string SelfNodeClientMessage = "Auto approving self kubelet client certificate after SubjectAccessReview.";
    private static readonly TimeSpan MinimumLifetime = TimeSpan.FromMinutes(10);

    /// <summary>After create: approve if a recognizer and the creator's permissions allow it, then sign.</summary>
    public void AfterCreate(string name)
    {
        if (options.ApproveNodeClientCertificateRequests) Approve(name);
        AfterUpdate(name);
    }

    private void Approve(string name)
    {
        var csr = store.Get(ResourceRegistry.CertificateSigningRequests, null, name);
        if (csr["status"]?["certificate"] is not null || Conditions(csr).Any(c => Type(c) is "Approved" or "Denied")) return;
        if (!IsNodeClient(csr, out var commonName)) return;
        var username = csr["spec"]?["username"]?.GetValue<string>() ?? "";
        var groups = (csr["spec"]?["groups"] as JsonArray ?? []).Select(g => g?.GetValue<string>() ?? "").ToList();
        var recognizers = new List<(string Subresource, string Message)>();
        if (username == commonName) recognizers.Add(("selfnodeclient", SelfNodeClientMessage));
        recognizers.Add(("nodeclient", NodeClientMessage));
        foreach (var (subresource, message) in recognizers)
        {
            var review = new RequestAttributes(new UserInfo(username, groups), "create", "")
            {
                IsResourceRequest = true, ApiGroup = "certificates.k8s.io", ApiVersion = "v1",
                Resource = "certificatesigningrequests", Subresource = subresource,
            };
            if (authorizer.Authorize(review).Decision != Decision.Allow) continue;
            store.Update(ResourceRegistry.CertificateSigningRequests, null, name, o =>
            {
                var status = o["status"] as JsonObject ?? new JsonObject();
                var conditions = status["conditions"] as JsonArray ?? [];
                conditions.Add(Condition("Approved", "AutoApproved", message));
                status["conditions"] = conditions;
                o["status"] = status;
                return o;
            });
            return;
        }
        logger.LogInformation("Recognized CSR {Name} as a node client CSR but the subject access review of {User} was not approved", name, username);
    }

    /// <summary>pkg/apis/certificates: isNodeClientCert (signer and ValidateKubeletClientCSR).</summary>
    private static bool IsNodeClient(JsonObject csr, out string commonName)
    {
        commonName = "";
        if (csr["spec"]?["signerName"]?.GetValue<string>() != ClientKubeletSigner) return false;
        CertificateRequest request;
        try
        {
            var pem = Encoding.UTF8.GetString(Convert.FromBase64String(csr["spec"]?["request"]?.GetValue<string>() ?? ""));
            request = CertificateRequest.LoadSigningRequestPem(pem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions);
        }
        catch (Exception e) when (e is CryptographicException or FormatException or ArgumentException)
        {
            return false;
        }
        var organizations = new List<string>();
        foreach (var rdn in request.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            var oid = rdn.GetSingleElementType().Value;
            if (oid == "2.5.4.10") organizations.Add(rdn.GetSingleElementValue() ?? "");
            if (oid == "2.5.4.3") commonName = rdn.GetSingleElementValue() ?? "";
        }
        if (organizations is not ["system:nodes"] || !commonName.StartsWith(UserInfo.NodeUserPrefix, StringComparison.Ordinal)) return false;
        if (request.CertificateExtensions.Any(e => e.Oid?.Value == "2.5.29.17")) return false; // DNS, email, IP and URI SANs are not allowed
        var usages = (csr["spec"]?["usages"] as JsonArray ?? []).Select(u => u?.GetValue<string>() ?? "").ToHashSet();
        return usages.SetEquals(["digital signature", "client auth"]) || usages.SetEquals(["digital signature", "key encipherment", "client auth"]);
    }

    /// <summary>After any write: an approved kubelet CSR without a certificate gets one (or a Failed condition).</summary>
    public JsonObject AfterUpdate(string name)
    {
        var updated = store.Get(ResourceRegistry.CertificateSigningRequests, null, name);
        if (!options.SignApprovedCertificateRequests) return updated;
        var conditions = Conditions(updated);
        var approved = conditions.Any(c => Type(c) == "Approved" && c?["status"]?.GetValue<string>() != "False");
        var denied = conditions.Any(c => Type(c) is "Denied" or "Failed");
        if (!approved || denied || updated["status"]?["certificate"] is not null) return updated;
        var (client, server) = updated["spec"]?["signerName"]?.GetValue<string>() switch
        {
            ClientKubeletSigner or "kubernetes.io/kube-apiserver-client" => (true, false),
            "kubernetes.io/kubelet-serving" => (false, true),
            _ => (false, false),
        };
        if (!client && !server) return updated;
        string pem;
        try
        {
            var request = Encoding.UTF8.GetString(Convert.FromBase64String(updated["spec"]?["request"]?.GetValue<string>() ?? ""));
            var lifetime = options.ClientCertificateTtl;
            if (updated["spec"]?["expirationSeconds"].AsInt64() is { } s)
            {
                // The signer's duration(): honour a shorter request, but never below 10 minutes (twice the backdate).
                var requested = TimeSpan.FromSeconds(s);
                lifetime = requested > lifetime ? lifetime : requested < MinimumLifetime ? MinimumLifetime : requested;
            }
            using var cert = pki.SignCertificateRequest(request, client, server, lifetime, options.TimeProvider.GetUtcNow());
            pem = cert.ExportCertificatePem() + "\n";
        }
        catch (Exception e) when (e is CryptographicException or FormatException or ArgumentException)
        {
            logger.LogWarning("Cannot sign CSR {Name}: {Error}", name, e.Message);
            return store.Update(ResourceRegistry.CertificateSigningRequests, null, name, o =>
            {
                ((JsonArray)o["status"]!["conditions"]!).Add(Condition("Failed", "SignerValidationFailure", e.Message));
                return o;
            });
        }
        return store.Update(ResourceRegistry.CertificateSigningRequests, null, name, o =>
        {
            o["status"]!["certificate"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(pem));
            return o;
        });
    }

    private JsonObject Condition(string type, string reason, string message) => new()
    {
        ["type"] = type, ["status"] = "True", ["reason"] = reason, ["message"] = message,
        ["lastUpdateTime"] = store.Now(), ["lastTransitionTime"] = store.Now(),
    };

    private static IEnumerable<JsonNode?> Conditions(JsonObject csr) => csr["status"]?["conditions"] as JsonArray ?? [];

    private static string? Type(JsonNode? condition) => condition?["type"]?.GetValue<string>();
}
