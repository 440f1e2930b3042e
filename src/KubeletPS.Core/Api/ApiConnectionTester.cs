using KubeletPS.Core.Configuration.Clientcmd;

namespace KubeletPS.Core.Api;

/// <summary>One check of API server access, with why it passed or failed.</summary>
public sealed record ApiConnectionCheck(string Name, bool Passed, string Message, string Server);

/// <summary>
/// The checks an administrator runs by hand with curl: the server's certificate verifies against
/// the cluster CA; an anonymous request is refused (403, or 401 when anonymous auth is off); the
/// node's credentials are accepted (GET /api answers APIVersions); and, for a node identity, the
/// node may read its own Node object (the Node authorizer lets it; 404 is fine before registration).
/// </summary>
public static class ApiConnectionTester
{
    public const string ServerTrusted = nameof(ServerTrusted);
    public const string AnonymousRefused = nameof(AnonymousRefused);
    public const string CredentialsAccepted = nameof(CredentialsAccepted);
    public const string NodeAuthorized = nameof(NodeAuthorized);

    public static async Task<IReadOnlyList<ApiConnectionCheck>> TestAsync(Kubeconfig kubeconfig, string? nodeName, TimeSpan timeout,
        bool skipCertificateCheck, CancellationToken cancellationToken)
    {
        var server = kubeconfig.Server;
        var checks = new List<ApiConnectionCheck>();

        ApiResponse anonymous;
        try
        {
            anonymous = await ApiRequester.SendAsync(kubeconfig, new ApiRequestOptions { Path = "/", Anonymous = true, Timeout = timeout, SkipCertificateCheck = skipCertificateCheck }, cancellationToken).ConfigureAwait(false);
            checks.Add(new(ServerTrusted, anonymous.CertificateVerified,
                anonymous.CertificateVerified ? $"{server} presented a certificate signed by the cluster CA ({kubeconfig.CertificateAuthoritySource ?? "system trust"})."
                                              : $"{server} answered, but its certificate was not verified (certificate check skipped).", server));
        }
        catch (KubeletApiException e)
        {
            checks.Add(new(ServerTrusted, false, e.Message, server));
            return checks;
        }

        checks.Add(anonymous.StatusCode switch
        {
            403 => new(AnonymousRefused, true, $"anonymous GET / is forbidden (403): {anonymous.StatusMessage}", server),
            401 => new(AnonymousRefused, true, "anonymous GET / is unauthorized (401): anonymous authentication is disabled.", server),
            _ => new(AnonymousRefused, false, $"anonymous GET / answered {anonymous.StatusCode} {anonymous.ReasonPhrase}; a secured API server refuses it with 403.", server),
        });

        ApiResponse api;
        try
        {
            api = await ApiRequester.SendAsync(kubeconfig, new ApiRequestOptions { Path = "/api", Timeout = timeout, SkipCertificateCheck = skipCertificateCheck }, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeletException e)
        {
            checks.Add(new(CredentialsAccepted, false, e.Message, server));
            return checks;
        }
        checks.Add(api.StatusCode == 200 && api.Kind == "APIVersions"
            ? new(CredentialsAccepted, true, $"GET /api as {api.User} answered APIVersions (200).", server)
            : new(CredentialsAccepted, false, $"GET /api as {api.User} answered {api.StatusCode} {api.ReasonPhrase}{(api.StatusMessage is null ? "" : ": " + api.StatusMessage)}.", server));

        var node = nodeName ?? (api.User.StartsWith("system:node:", StringComparison.Ordinal) ? api.User["system:node:".Length..] : null);
        if (node is not null && api.StatusCode == 200)
        {
            var get = await ApiRequester.SendAsync(kubeconfig, new ApiRequestOptions { Path = $"/api/v1/nodes/{Uri.EscapeDataString(node)}", Timeout = timeout, SkipCertificateCheck = skipCertificateCheck }, cancellationToken).ConfigureAwait(false);
            checks.Add(get.StatusCode switch
            {
                200 => new(NodeAuthorized, true, $"{api.User} may get node {node} (200).", server),
                404 => new(NodeAuthorized, true, $"{api.User} may get node {node}; it is not registered yet (404).", server),
                _ => new(NodeAuthorized, false, $"{api.User} may not get node {node}: {get.StatusCode} {get.StatusMessage ?? get.ReasonPhrase}", server),
            });
        }
        return checks;
    }
}
