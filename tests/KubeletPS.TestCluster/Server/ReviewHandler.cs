using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Auth;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Server;

/// <summary>
/// authentication.k8s.io/v1 TokenReview and authorization.k8s.io/v1 SubjectAccessReview (create only, nothing stored),
/// what a kubelet with webhook authentication and authorization asks: the tokens this server issues (bootstrap and
/// service account tokens) are reviewed, and access is answered by the same authorizers that guard this server
/// (the Node authorizer, then the rule table standing in for RBAC).
/// </summary>
internal sealed class ReviewHandler(BootstrapTokenAuthenticator bootstrapTokens, ServiceAccountTokenAuthenticator serviceAccountTokens, IAuthorizer authorizer)
{
    /// <summary>True when the request was a review (answered here).</summary>
    public static bool IsReview(RequestAttributes a) => a.IsResourceRequest && a.Verb == "create" && a.Subresource.Length == 0
        && ((a.ApiGroup, a.Resource) is ("authentication.k8s.io", "tokenreviews") or ("authorization.k8s.io", "subjectaccessreviews"));

    public JsonObject Review(RequestAttributes a, JsonObject body) =>
        a.Resource == "tokenreviews" ? TokenReview(body) : SubjectAccessReview(body);

    private JsonObject TokenReview(JsonObject body)
    {
        var token = body["spec"]?["token"]?.GetValue<string>() ?? "";
        UserInfo? user;
        string failure;
        if (BootstrapTokenAuthenticator.IsBootstrapToken(token)) user = bootstrapTokens.Authenticate(token, out failure);
        else user = serviceAccountTokens.Authenticate(token, out failure);
        var status = new JsonObject { ["authenticated"] = user is not null };
        if (user is not null)
        {
            status["user"] = new JsonObject
            {
                ["username"] = user.Name,
                ["groups"] = new JsonArray(user.Groups.Select(g => (JsonNode)g).ToArray()),
            };
            status["audiences"] = body["spec"]?["audiences"]?.DeepClone() ?? new JsonArray("https://kubernetes.default.svc.cluster.local");
        }
        else
        {
            status["user"] = new JsonObject();
            status["error"] = failure;
        }
        return new JsonObject
        {
            ["kind"] = "TokenReview",
            ["apiVersion"] = "authentication.k8s.io/v1",
            ["metadata"] = new JsonObject { ["creationTimestamp"] = null },
            ["spec"] = body["spec"]?.DeepClone() ?? new JsonObject(),
            ["status"] = status,
        };
    }

    private JsonObject SubjectAccessReview(JsonObject body)
    {
        var spec = body["spec"] as JsonObject ?? throw ApiException.BadRequest("SubjectAccessReview: spec is required");
        var user = spec["user"]?.GetValue<string>() ?? "";
        var groups = (spec["groups"] as JsonArray)?.Select(g => g!.GetValue<string>()).ToList() ?? [];
        if (user.Length == 0 && groups.Count == 0)
            throw new ApiException(422, "Invalid", "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.user: Invalid value: \"\": at least one of user or group must be specified");
        var who = new UserInfo(user, groups);
        RequestAttributes attributes;
        if (spec["resourceAttributes"] is JsonObject r)
        {
            attributes = new RequestAttributes(who, r["verb"]?.GetValue<string>() ?? "", "")
            {
                IsResourceRequest = true,
                ApiGroup = r["group"]?.GetValue<string>() ?? "",
                ApiVersion = r["version"]?.GetValue<string>() ?? "",
                Resource = r["resource"]?.GetValue<string>() ?? "",
                Subresource = r["subresource"]?.GetValue<string>() ?? "",
                Namespace = r["namespace"]?.GetValue<string>() ?? "",
                Name = r["name"]?.GetValue<string>() ?? "",
            };
        }
        else if (spec["nonResourceAttributes"] is JsonObject n)
        {
            attributes = new RequestAttributes(who, n["verb"]?.GetValue<string>() ?? "", n["path"]?.GetValue<string>() ?? "");
        }
        else
        {
            throw new ApiException(422, "Invalid", "SubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified");
        }
        var decision = authorizer.Authorize(attributes);
        var status = new JsonObject { ["allowed"] = decision.Decision == Decision.Allow };
        if (decision.Decision == Decision.Deny) status["denied"] = true;
        if (decision.Reason.Length > 0) status["reason"] = decision.Reason;
        return new JsonObject
        {
            ["kind"] = "SubjectAccessReview",
            ["apiVersion"] = "authorization.k8s.io/v1",
            ["metadata"] = new JsonObject { ["creationTimestamp"] = null },
            ["spec"] = spec.DeepClone(),
            ["status"] = status,
        };
    }
}
