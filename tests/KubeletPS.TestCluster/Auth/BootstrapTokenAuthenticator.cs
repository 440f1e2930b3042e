using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Auth;

/// <summary>
/// kube-apiserver's bootstrap token authenticator (plugin/pkg/auth/authenticator/token/bootstrap): a bearer token
/// <c>ID.SECRET</c> names the Secret <c>bootstrap-token-ID</c> in kube-system, of type bootstrap.kubernetes.io/token,
/// whose token-secret matches (compared in constant time), that is not expired, not being deleted and marked
/// usage-bootstrap-authentication=true. The user is <c>system:bootstrap:ID</c> in system:bootstrappers and the token's
/// auth-extra-groups. A token that fails any check authenticates nobody: the request is 401, never anonymous.
/// </summary>
public sealed partial class BootstrapTokenAuthenticator(ObjectStore store, TimeProvider time)
{
    public const string SecretType = "bootstrap.kubernetes.io/token";
    public const string SecretPrefix = "bootstrap-token-";
    public const string UserPrefix = "system:bootstrap:";
    public const string BootstrappersGroup = "system:bootstrappers";
    /// <summary>The extra group kubeadm gives its default node tokens; RBAC grants it the node-bootstrapper role.</summary>
    public const string KubeadmDefaultNodeTokenGroup = "system:bootstrappers:kubeadm:default-node-token";

    [GeneratedRegex("^([a-z0-9]{6})\\.([a-z0-9]{16})$")]
    private static partial Regex TokenFormat();

    [GeneratedRegex("^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$")]
    private static partial Regex GroupFormat();

    /// <summary>True when <paramref name="token"/> has the bootstrap token form (so this authenticator has an opinion).</summary>
    public static bool IsBootstrapToken(string token) => TokenFormat().IsMatch(token);

    /// <summary>The user, or null with <paramref name="failure"/> saying why (for the server log; never the secret).</summary>
    public UserInfo? Authenticate(string token, out string failure)
    {
        failure = "";
        var match = TokenFormat().Match(token);
        if (!match.Success)
        {
            failure = "bearer token is not a bootstrap token and no other token authenticator is configured";
            return null;
        }
        var id = match.Groups[1].Value;
        var secretName = SecretPrefix + id;
        var secret = store.TryGet(ResourceRegistry.Secrets, "kube-system", secretName);
        if (secret is null)
        {
            failure = $"no secret of name {secretName} to match bootstrap bearer token";
            return null;
        }
        string Invalid(string why) => $"bootstrap secret kube-system/{secretName} {why}";
        if (secret["metadata"]?["deletionTimestamp"] is not null)
        {
            failure = Invalid("is deleted and awaiting removal");
            return null;
        }
        if (secret["type"]?.GetValue<string>() != SecretType || secret["data"] is not JsonObject data)
        {
            failure = Invalid($"has invalid type, expected {SecretType}.");
            return null;
        }
        string Get(string key) => data[key]?.GetValue<string>() is { } b64 ? Decode(b64) : "";
        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(Get("token-secret")), Encoding.UTF8.GetBytes(match.Groups[2].Value)))
        {
            failure = Invalid("has invalid value for key token-secret.");
            return null;
        }
        if (Get("token-id") != id)
        {
            failure = Invalid("has invalid value for key token-id.");
            return null;
        }
        if (Get("expiration") is { Length: > 0 } expiration)
        {
            if (!DateTimeOffset.TryParse(expiration, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var expires))
            {
                failure = Invalid($"has unparsable expiration time ({expiration}).");
                return null;
            }
            if (time.GetUtcNow() >= expires)
            {
                failure = Invalid($"has expired (expiration {expiration}).");
                return null;
            }
        }
        if (Get("usage-bootstrap-authentication") != "true")
        {
            failure = Invalid("not marked usage-bootstrap-authentication=true.");
            return null;
        }
        var groups = new List<string> { BootstrappersGroup };
        foreach (var group in Get("auth-extra-groups").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!GroupFormat().IsMatch(group))
            {
                failure = Invalid($"has invalid value for key auth-extra-groups: bootstrap-group {group} is invalid (must match {GroupFormat()}).");
                return null;
            }
            if (!groups.Contains(group)) groups.Add(group);
        }
        groups.Add(UserInfo.AllAuthenticated);
        return new UserInfo(UserPrefix + id, groups);
    }

    /// <summary>
    /// A Secret as <c>kubeadm token create</c> writes it: usable for authentication and signing, group
    /// system:bootstrappers:kubeadm:default-node-token, expiring at <paramref name="expires"/>.
    /// </summary>
    public static JsonObject TokenSecret(string id, string secret, DateTimeOffset? expires, string extraGroups = KubeadmDefaultNodeTokenGroup)
    {
        static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));
        var data = new JsonObject
        {
            ["token-id"] = B64(id),
            ["token-secret"] = B64(secret),
            ["usage-bootstrap-authentication"] = B64("true"),
            ["usage-bootstrap-signing"] = B64("true"),
            ["auth-extra-groups"] = B64(extraGroups),
        };
        if (expires is { } e) data["expiration"] = B64(ObjectStore.FormatTime(e));
        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Secret",
            ["metadata"] = new JsonObject { ["name"] = SecretPrefix + id, ["namespace"] = "kube-system" },
            ["type"] = SecretType,
            ["data"] = data,
        };
    }

    /// <summary>A fresh random token (id, secret) in kubeadm's alphabet.</summary>
    public static (string Id, string Secret) NewToken()
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        return (RandomNumberGenerator.GetString(alphabet, 6), RandomNumberGenerator.GetString(alphabet, 16));
    }

    private static string Decode(string b64)
    {
        try { return Encoding.UTF8.GetString(Convert.FromBase64String(b64)); }
        catch (FormatException) { return ""; }
    }
}
