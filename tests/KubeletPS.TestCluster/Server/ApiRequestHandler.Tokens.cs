using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Server;

/// <summary>The TokenRequest subresource: service account tokens signed as JWTs.</summary>
internal sealed partial class ApiRequestHandler
{
    /// <summary>
    /// TokenRequest: a signed JWT for the service account (not accepted back as a bearer token by this server). As the
    /// real registry (pkg/registry/core/serviceaccount/storage/token.go): 404 when the service account does not exist; a
    /// token bound to a Pod needs that pod to exist (404) with the UID the reference names (409), and carries its name
    /// and UID in its claims.
    /// </summary>
    private JsonObject CreateToken(ResourceRequest r, JsonObject body)
    {
        var sa = store.Get(ResourceRegistry.ServiceAccounts, r.Namespace, r.Name);
        var spec = body["spec"] as JsonObject ?? new JsonObject();
        JsonObject? boundPod = null;
        if (spec["boundObjectRef"] is JsonObject reference)
        {
            var kind = reference["kind"]?.GetValue<string>();
            var refName = reference["name"]?.GetValue<string>() ?? "";
            if (kind != "Pod" || reference["apiVersion"]?.GetValue<string>() is not (null or "v1"))
                throw ApiException.BadRequest($"cannot bind token for serviceaccount \"{r.Name}\" to object of type {reference["apiVersion"]}, Kind={kind} (only v1 Pod is supported by this server)");
            boundPod = store.Get(ResourceRegistry.Pods, r.Namespace, refName);
            var uid = boundPod["metadata"]?["uid"]?.GetValue<string>();
            if (reference["uid"]?.GetValue<string>() is { Length: > 0 } wanted && wanted != uid)
                throw ApiException.Conflict(ResourceRegistry.Pods, refName,
                    $"the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated");
        }
        var seconds = spec["expirationSeconds"].AsInt64() ?? 3600;
        if (seconds < 600)
            throw ApiException.Invalid(r.Type, r.Name, "spec.expirationSeconds", $"{seconds}: may not specify a duration less than 10 minutes");
        var now = options.TimeProvider.GetUtcNow();
        var expires = now.AddSeconds(seconds);
        var audiences = spec["audiences"] as JsonArray is { Count: > 0 } a ? (JsonArray)a.DeepClone() : new JsonArray("https://kubernetes.default.svc.cluster.local");
        var claims = new JsonObject
        {
            ["aud"] = audiences.DeepClone(),
            ["exp"] = expires.ToUnixTimeSeconds(),
            ["iat"] = now.ToUnixTimeSeconds(),
            ["iss"] = "https://kubernetes.default.svc.cluster.local",
            ["sub"] = $"system:serviceaccount:{r.Namespace}:{r.Name}",
            ["kubernetes.io"] = new JsonObject
            {
                ["namespace"] = r.Namespace,
                ["serviceaccount"] = new JsonObject { ["name"] = r.Name, ["uid"] = sa["metadata"]?["uid"]?.DeepClone() },
            },
        };
        if (boundPod is not null)
        {
            ((JsonObject)claims["kubernetes.io"]!)["pod"] = new JsonObject
            {
                ["name"] = boundPod["metadata"]?["name"]?.DeepClone(),
                ["uid"] = boundPod["metadata"]?["uid"]?.DeepClone(),
            };
        }
        spec["audiences"] = audiences;
        spec["expirationSeconds"] = seconds;
        return new JsonObject
        {
            ["kind"] = "TokenRequest",
            ["apiVersion"] = "authentication.k8s.io/v1",
            ["metadata"] = new JsonObject { ["name"] = r.Name, ["namespace"] = r.Namespace, ["creationTimestamp"] = null },
            ["spec"] = spec.DeepClone(),
            ["status"] = new JsonObject { ["token"] = SignJwt(claims), ["expirationTimestamp"] = ObjectStore.FormatTime(expires) },
        };
    }

    private string SignJwt(JsonObject claims)
    {
        static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var alg = pki.CA.Key is ECDsa ? "ES256" : "RS256";
        var header = B64(Encoding.UTF8.GetBytes(new JsonObject { ["alg"] = alg, ["kid"] = "kubeletps-test" }.ToJsonString()));
        var payload = B64(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var data = Encoding.ASCII.GetBytes($"{header}.{payload}");
        var signature = pki.CA.Key switch
        {
            ECDsa ec => ec.SignData(data, HashAlgorithmName.SHA256),
            RSA rsa => rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            _ => throw new NotSupportedException(),
        };
        return $"{header}.{payload}.{B64(signature)}";
    }
}
