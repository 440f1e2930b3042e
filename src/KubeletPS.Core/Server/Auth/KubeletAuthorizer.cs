using System.Collections.Concurrent;
using k8s;
using k8s.Models;
using KubeletPS.Core.Api;

namespace KubeletPS.Core.Server.Auth;

public enum KubeletAuthorizationDecision { Allow, Deny, Error }

/// <summary>
/// The kubelet's authorizer: AlwaysAllow, or Webhook — a SubjectAccessReview to the API server for the request's
/// attributes (<see cref="KubeletRequestAttributes.For"/>), the answer cached for cacheAuthorizedTTL when allowed and
/// cacheUnauthorizedTTL when not (k8s.io/apiserver authorizerfactory DelegatingAuthorizerConfig). Errors are not cached.
/// </summary>
public sealed class KubeletAuthorizer
{
    private const int MaxCachedDecisions = 4096;

    private readonly KubeletServerOptions _options;
    private readonly IKubernetes? _client;
    private readonly ApiIdentity? _identity;
    private readonly TimeProvider _time;
    private readonly bool _alwaysAllow;
    private readonly ConcurrentDictionary<string, (bool Allowed, DateTimeOffset Expires)> _cache = new(StringComparer.Ordinal);
    private long _reviews;

    public KubeletAuthorizer(KubeletServerOptions options, IKubernetes? client, ApiIdentity? identity, TimeProvider time)
    {
        _options = options;
        _client = client;
        _identity = identity;
        _time = time;
        _alwaysAllow = options.AuthorizationMode switch
        {
            "AlwaysAllow" => true,
            "Webhook" or "" => false,
            _ => throw new KubeletConfigException($"authorization.mode: unknown mode \"{options.AuthorizationMode}\" (kubelet knows AlwaysAllow and Webhook).", null, field: "authorization.mode"),
        };
        if (!_alwaysAllow && client is null)
            throw new ArgumentException("authorization.mode Webhook needs an API client for SubjectAccessReviews.", nameof(client));
    }

    /// <summary>SubjectAccessReviews sent so far (cache misses).</summary>
    public long Reviews => Interlocked.Read(ref _reviews);

    public async Task<(KubeletAuthorizationDecision Decision, string? Reason)> AuthorizeAsync(KubeletRequestAttributes a, CancellationToken cancellationToken)
    {
        if (_alwaysAllow) return (KubeletAuthorizationDecision.Allow, null);
        var key = string.Join('\0', a.User.Name, a.User.Uid, string.Join(',', a.User.Groups), ExtraKey(a.User), a.Verb, a.NodeName, a.Subresource);
        var now = _time.GetUtcNow();
        if (_cache.TryGetValue(key, out var cached) && cached.Expires > now)
            return (cached.Allowed ? KubeletAuthorizationDecision.Allow : KubeletAuthorizationDecision.Deny, null);
        Interlocked.Increment(ref _reviews);
        var review = new V1SubjectAccessReview
        {
            Spec = new V1SubjectAccessReviewSpec
            {
                User = a.User.Name,
                Groups = a.User.Groups.ToList(),
                Uid = a.User.Uid.Length > 0 ? a.User.Uid : null,
                Extra = a.User.Extra?.ToDictionary(kv => kv.Key, kv => (IList<string>)kv.Value.ToList()),
                ResourceAttributes = new V1ResourceAttributes
                {
                    Verb = a.Verb,
                    Group = "",
                    Version = "v1",
                    Resource = KubeletRequestAttributes.Resource,
                    Subresource = a.Subresource,
                    Name = a.NodeName,
                },
            },
        };
        V1SubjectAccessReview answer;
        try
        {
            answer = await ApiCall.RunAsync(_identity!, "create", "subjectaccessreviews", null,
                () => _client!.AuthorizationV1.CreateSubjectAccessReviewAsync(review, cancellationToken: cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch (KubeletException e)
        {
            return (KubeletAuthorizationDecision.Error, e.Message);
        }
        var allowed = answer.Status?.Allowed == true && answer.Status.Denied != true;
        if (_cache.Count >= MaxCachedDecisions) _cache.Clear();
        _cache[key] = (allowed, now + (allowed ? _options.AuthorizedCacheTtl : _options.UnauthorizedCacheTtl));
        return (allowed ? KubeletAuthorizationDecision.Allow : KubeletAuthorizationDecision.Deny, answer.Status?.Reason);
    }

    private static string ExtraKey(KubeletUser user) =>
        user.Extra is null ? "" : string.Join(';', user.Extra.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + string.Join(',', kv.Value)));
}
