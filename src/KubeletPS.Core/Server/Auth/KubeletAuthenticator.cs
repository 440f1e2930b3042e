using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using k8s;
using k8s.Models;
using KubeletPS.Core.Api;

namespace KubeletPS.Core.Server.Auth;

/// <summary>The outcome of authenticating one request: a user, or why not (for the log; the client sees only 401).</summary>
public readonly record struct AuthenticationResult(KubeletUser? User, string? Failure)
{
    public bool Authenticated => User is not null;
}

/// <summary>
/// The kubelet's request authenticator (k8s.io/apiserver authenticatorfactory DelegatingAuthenticatorConfig): x509
/// client certificates verified against authentication.x509.clientCAFile alone (user CN, groups O), bearer tokens
/// reviewed by the API server with a TokenReview (authentication.webhook, answers cached for cacheTTL, success and
/// failure alike), all in system:authenticated; then, only with authentication.anonymous.enabled, anonymous for a
/// request that presented nothing. A credential that fails is never anonymous (unionauth.NewFailOnError).
/// </summary>
public sealed class KubeletAuthenticator
{
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";
    private const int MaxCachedTokens = 4096;

    private readonly X509Certificate2Collection? _clientCa;
    private readonly IKubernetes? _client;
    private readonly ApiIdentity? _identity;
    private readonly KubeletServerOptions _options;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (AuthenticationResult Result, DateTimeOffset Expires)> _tokens = new(StringComparer.Ordinal);

    public KubeletAuthenticator(KubeletServerOptions options, IKubernetes? client, ApiIdentity? identity, TimeProvider time)
    {
        _options = options;
        _client = client;
        _identity = identity;
        _time = time;
        if (options.ClientCaFile.Length > 0) _clientCa = LoadClientCa(options.ClientCaFile);
        if (options.WebhookAuthenticationEnabled && client is null)
            throw new ArgumentException("authentication.webhook.enabled needs an API client for TokenReviews.", nameof(client));
    }

    /// <summary>TokenReviews sent to the API server so far (cache misses).</summary>
    public long TokenReviews => Interlocked.Read(ref _tokenReviews);
    private long _tokenReviews;

    public async Task<AuthenticationResult> AuthenticateAsync(X509Certificate2? certificate, string? authorization, CancellationToken cancellationToken)
    {
        var failures = new List<string>();
        if (certificate is not null && _clientCa is not null)
        {
            var byCertificate = AuthenticateCertificate(certificate);
            if (byCertificate.Authenticated) return byCertificate;
            failures.Add(byCertificate.Failure!);
        }
        if (authorization is { Length: > 0 } header && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && _options.WebhookAuthenticationEnabled)
        {
            var token = header[7..].Trim();
            if (token.Length > 0)
            {
                var byToken = await AuthenticateTokenAsync(token, cancellationToken).ConfigureAwait(false);
                if (byToken.Authenticated) return byToken;
                failures.Add(byToken.Failure!);
            }
        }
        if (failures.Count > 0) return new AuthenticationResult(null, string.Join("; ", failures));
        return _options.AnonymousEnabled
            ? new AuthenticationResult(KubeletUser.Anonymous, null)
            : new AuthenticationResult(null, "no client certificate or bearer token, and anonymous requests are not enabled (authentication.anonymous.enabled)");
    }

    private AuthenticationResult AuthenticateCertificate(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_clientCa!);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = _time.GetUtcNow().UtcDateTime;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ClientAuthOid));
        if (!chain.Build(certificate))
        {
            var why = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0));
            return new AuthenticationResult(null, $"x509: certificate \"{certificate.Subject}\" is not valid for {_options.ClientCaFile}: {why}");
        }
        var cn = certificate.GetNameInfo(X509NameType.SimpleName, false);
        if (string.IsNullOrEmpty(cn)) return new AuthenticationResult(null, "x509: the client certificate has no common name");
        var groups = certificate.SubjectName.EnumerateRelativeDistinguishedNames()
            .Where(r => r.GetSingleElementType().Value == "2.5.4.10")
            .Select(r => r.GetSingleElementValue())
            .OfType<string>().ToList();
        return new AuthenticationResult(new KubeletUser(cn, groups).WithAuthenticatedGroup(), null);
    }

    private async Task<AuthenticationResult> AuthenticateTokenAsync(string token, CancellationToken cancellationToken)
    {
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
        var now = _time.GetUtcNow();
        if (_tokens.TryGetValue(key, out var cached) && cached.Expires > now) return cached.Result;
        Interlocked.Increment(ref _tokenReviews);
        V1TokenReview review;
        try
        {
            review = await ApiCall.RunAsync(_identity!, "create", "tokenreviews", null,
                () => _client!.AuthenticationV1.CreateTokenReviewAsync(new V1TokenReview { Spec = new V1TokenReviewSpec { Token = token } }, cancellationToken: cancellationToken),
                cancellationToken).ConfigureAwait(false);
        }
        catch (KubeletException e)
        {
            // Not cached: the next request asks again.
            return new AuthenticationResult(null, $"token review failed: {e.Message}");
        }
        var result = review.Status is { Authenticated: true, User: { } u }
            ? new AuthenticationResult(new KubeletUser(u.Username, u.Groups?.ToList() ?? [], u.Uid ?? "",
                u.Extra?.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value.ToList())).WithAuthenticatedGroup(), null)
            : new AuthenticationResult(null, $"token review: not authenticated{(string.IsNullOrEmpty(review.Status?.Error) ? "" : ": " + review.Status!.Error)}");
        if (_tokens.Count >= MaxCachedTokens) _tokens.Clear();
        _tokens[key] = (result, now + _options.TokenCacheTtl);
        return result;
    }

    private static X509Certificate2Collection LoadClientCa(string path)
    {
        var collection = new X509Certificate2Collection();
        try
        {
            collection.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new KubeletConfigException($"authentication.x509.clientCAFile: cannot read the client CA bundle: {e.Message}", path, field: "authentication.x509.clientCAFile",
                category: e is FileNotFoundException or DirectoryNotFoundException ? KubeletErrorKind.NotFound : KubeletErrorKind.InvalidData, inner: e);
        }
        if (collection.Count == 0)
            throw new KubeletConfigException("authentication.x509.clientCAFile: the file holds no CERTIFICATE block.", path, field: "authentication.x509.clientCAFile");
        return collection;
    }
}
