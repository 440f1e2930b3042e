using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Auth;

/// <summary>
/// Verifies the service account JWTs this server issues (TokenRequest, signed with the cluster CA key) as
/// kube-apiserver's service account authenticator does: signature, expiry, the service account (and a bound pod) still
/// there with the UIDs the token names. The user is system:serviceaccount:NS:NAME in system:serviceaccounts and
/// system:serviceaccounts:NS. Used for TokenReviews (kubelets reviewing bearer tokens).
/// </summary>
public sealed class ServiceAccountTokenAuthenticator(ObjectStore store, X509Certificate2 signer, TimeProvider time)
{
    public UserInfo? Authenticate(string token, out string failure)
    {
        failure = "";
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            failure = "token is not a JWT";
            return null;
        }
        JsonObject claims;
        try
        {
            var data = Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}");
            var signature = Base64Url(parts[2]);
            var valid = signer.GetECDsaPublicKey() is { } ec ? ec.VerifyData(data, signature, HashAlgorithmName.SHA256)
                : signer.GetRSAPublicKey() is { } rsa && rsa.VerifyData(data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            if (!valid)
            {
                failure = "invalid bearer token: square/go-jose: error in cryptographic primitive";
                return null;
            }
            claims = JsonNode.Parse(Base64Url(parts[1])) as JsonObject ?? throw new FormatException("claims are not an object");
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or CryptographicException)
        {
            failure = $"invalid bearer token: {e.Message}";
            return null;
        }
        if (claims["exp"]?.GetValue<long>() is not { } exp || DateTimeOffset.FromUnixTimeSeconds(exp) <= time.GetUtcNow())
        {
            failure = "invalid bearer token: service account token has expired";
            return null;
        }
        var k8s = claims["kubernetes.io"];
        var ns = k8s?["namespace"]?.GetValue<string>() ?? "";
        var name = k8s?["serviceaccount"]?["name"]?.GetValue<string>() ?? "";
        var sa = store.TryGet(ResourceRegistry.ServiceAccounts, ns, name);
        if (sa is null || (string?)sa["metadata"]?["uid"] != k8s?["serviceaccount"]?["uid"]?.GetValue<string>())
        {
            failure = $"invalid bearer token: service account {ns}/{name} has been deleted";
            return null;
        }
        if (k8s?["pod"] is { } pod)
        {
            var live = store.TryGet(ResourceRegistry.Pods, ns, pod["name"]?.GetValue<string>() ?? "");
            if (live is null || (string?)live["metadata"]?["uid"] != pod["uid"]?.GetValue<string>())
            {
                failure = $"invalid bearer token: pod {ns}/{pod["name"]} has been deleted";
                return null;
            }
        }
        return new UserInfo($"system:serviceaccount:{ns}:{name}", ["system:serviceaccounts", $"system:serviceaccounts:{ns}", UserInfo.AllAuthenticated]);
    }

    private static byte[] Base64Url(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s.PadRight(s.Length + (4 - s.Length % 4) % 4, '='));
    }
}
