using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Auth;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Server.Controllers;

/// <summary>
/// kube-controller-manager's bootstrap signer (pkg/controller/bootstrap/bootstrapsigner.go): watches the bootstrap token
/// Secrets in kube-system and the cluster-info ConfigMap in kube-public (here: notices any change of the store), and keeps one detached JWS
/// <c>jws-kubeconfig-TOKEN-ID</c> over the ConfigMap's kubeconfig for every token that may sign (usage-bootstrap-signing
/// "true", token-id matching the name, not expired); signatures of tokens that are gone are removed. The HS256 signature
/// is written here independently of the engine's, so the engine's check is tested against a second implementation.
/// </summary>
public sealed class BootstrapSigner(ObjectStore store, TimeProvider time) : IAsyncDisposable
{
    public const string Namespace = "kube-public";
    public const string ConfigMapName = "cluster-info";
    public const string KubeconfigKey = "kubeconfig";
    public const string SignaturePrefix = "jws-kubeconfig-";

    private ControllerLoop? _loop;

    public void Start() => (_loop ??= new ControllerLoop(RunAsync)).Start();

    public async ValueTask DisposeAsync()
    {
        if (_loop is not null) await _loop.DisposeAsync();
    }

    /// <summary>jws.ComputeDetachedSignature: HEADER..SIGNATURE of an HS256 JWS keyed by the zero-padded token secret.</summary>
    public static string ComputeDetachedSignature(string content, string tokenId, string tokenSecret)
    {
        static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var key = new byte[32];
        var secret = Encoding.UTF8.GetBytes(tokenSecret);
        if (secret.Length > key.Length) key = secret;
        else secret.CopyTo(key, 0);
        var header = B64(Encoding.UTF8.GetBytes(new JsonObject { ["alg"] = "HS256", ["kid"] = tokenId }.ToJsonString()));
        using var hmac = new HMACSHA256(key);
        var signature = hmac.ComputeHash(Encoding.ASCII.GetBytes($"{header}.{B64(Encoding.UTF8.GetBytes(content))}"));
        return $"{header}..{B64(signature)}";
    }

    /// <summary>getTokens: token id → secret for each Secret that validateSecretForSigning accepts.</summary>
    public static Dictionary<string, string> SigningTokens(ObjectStore store, DateTimeOffset now)
    {
        var tokens = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var secret in store.List(ResourceRegistry.Secrets, "kube-system", LabelSelector.Everything, FieldSelector.Everything).Items)
        {
            if (secret["type"]?.GetValue<string>() != BootstrapTokenAuthenticator.SecretType || secret["data"] is not JsonObject data) continue;
            string Get(string key) => data[key]?.GetValue<string>() is { } b64 ? Decode(b64) : "";
            var name = secret["metadata"]?["name"]?.GetValue<string>() ?? "";
            var id = Get("token-id");
            var tokenSecret = Get("token-secret");
            if (!name.StartsWith(BootstrapTokenAuthenticator.SecretPrefix, StringComparison.Ordinal) || id.Length == 0
                || name[BootstrapTokenAuthenticator.SecretPrefix.Length..] != id || tokenSecret.Length == 0) continue;
            if (Get("expiration") is { Length: > 0 } expiration
                && (!DateTimeOffset.TryParse(expiration, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var expires) || now >= expires)) continue;
            if (Get("usage-bootstrap-signing") != "true") continue;
            tokens.TryAdd(id, tokenSecret);
        }
        return tokens;
    }

    /// <summary>signConfigMap: recompute every signature and write the ConfigMap back when one changed, appeared or went away.</summary>
    public void SignConfigMap()
    {
        var current = store.TryGet(ResourceRegistry.ConfigMaps, Namespace, ConfigMapName);
        if (current?["data"]?[KubeconfigKey]?.GetValue<string>() is not { } content) return;
        var wanted = SigningTokens(store, time.GetUtcNow()).ToDictionary(t => SignaturePrefix + t.Key, t => ComputeDetachedSignature(content, t.Key, t.Value));
        var data = current["data"]!.AsObject();
        var existing = data.Where(p => p.Key.StartsWith(SignaturePrefix, StringComparison.Ordinal)).ToDictionary(p => p.Key, p => p.Value?.GetValue<string>());
        if (existing.Count == wanted.Count && wanted.All(w => existing.TryGetValue(w.Key, out var v) && v == w.Value)) return;
        try
        {
            store.Update(ResourceRegistry.ConfigMaps, Namespace, ConfigMapName, cm =>
            {
                var d = cm["data"]!.AsObject();
                foreach (var key in d.Select(p => p.Key).Where(k => k.StartsWith(SignaturePrefix, StringComparison.Ordinal)).ToList()) d.Remove(key);
                foreach (var (key, value) in wanted) d[key] = value;
                return cm;
            });
        }
        catch (ApiException e) when (e.Code is 404 or 409)
        {
            // Deleted or changed meanwhile: the watch brings the next change and a new signing pass.
        }
    }

    /// <summary>
    /// The informers' part: a signing pass whenever the store changed. It looks at the store's resourceVersion rather than
    /// holding watches, so it never counts among the open watches the tests observe, nor is dropped with them.
    /// </summary>
    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        var seen = -1L;
        try
        {
            do
            {
                var version = store.ResourceVersion;
                if (version == seen) continue;
                SignConfigMap();
                seen = version; // after our own update the next pass finds nothing to change
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private static string Decode(string b64)
    {
        try { return Encoding.UTF8.GetString(Convert.FromBase64String(b64)); }
        catch (FormatException) { return ""; }
    }
}
