using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using k8s.Autorest;

namespace KubeletPS.Core.Api;

/// <summary>
/// An API request that failed, said the way an administrator needs it: which server, which
/// identity, which verb on which resource, and the API server's own message.
/// </summary>
public sealed class KubeletApiException(string message, KubeletErrorKind category, HttpStatusCode? statusCode, string? reason, string? target, Exception? inner)
    : KubeletException(message, category, target, inner)
{
    public HttpStatusCode? StatusCode { get; } = statusCode;

    /// <summary>The Status reason (Forbidden, Conflict, NotFound, AlreadyExists, Expired…).</summary>
    public string? Reason { get; } = reason;

    public bool IsConflict => StatusCode == HttpStatusCode.Conflict;
    public bool IsNotFound => StatusCode == HttpStatusCode.NotFound;
    public bool IsAlreadyExists => StatusCode == HttpStatusCode.Conflict && Reason == "AlreadyExists";

    /// <summary>True for failures worth retrying later: the server unreachable, overloaded or failing.</summary>
    public bool IsTransient => Category is KubeletErrorKind.Connection or KubeletErrorKind.Timeout
        || StatusCode is HttpStatusCode.InternalServerError or HttpStatusCode.BadGateway
            or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout or HttpStatusCode.TooManyRequests;
}

/// <summary>Who we are to the API server and where it is; used to word errors.</summary>
public sealed record ApiIdentity(string Server, string User);

/// <summary>Runs one API call and turns its failure into a <see cref="KubeletApiException"/>.</summary>
public static class ApiCall
{
    public static async Task<T> RunAsync<T>(ApiIdentity identity, string verb, string resource, string? name, Func<Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && Translate(identity, verb, resource, name, e) is { } translated)
        {
            throw translated;
        }
    }

    public static Task RunAsync(ApiIdentity identity, string verb, string resource, string? name, Func<Task> call, CancellationToken cancellationToken) =>
        RunAsync<bool>(identity, verb, resource, name, async () => { await call().ConfigureAwait(false); return true; }, cancellationToken);

    internal static KubeletApiException? Translate(ApiIdentity identity, string verb, string resource, string? name, Exception e)
    {
        var what = name is null ? resource : $"{resource} \"{name}\"";
        switch (e)
        {
            case KubeletApiException api:
                return api;
            case HttpOperationException http:
                {
                    var status = http.Response.StatusCode;
                    var (reason, message) = ReadStatus(http.Response.Content);
                    message ??= $"{(int)status} {status}";
                    var category = status switch
                    {
                        HttpStatusCode.Unauthorized => KubeletErrorKind.Authentication,
                        HttpStatusCode.Forbidden => KubeletErrorKind.PermissionDenied,
                        HttpStatusCode.NotFound => KubeletErrorKind.NotFound,
                        HttpStatusCode.Conflict => KubeletErrorKind.Conflict,
                        HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest => KubeletErrorKind.InvalidData,
                        HttpStatusCode.GatewayTimeout => KubeletErrorKind.Timeout,
                        _ => KubeletErrorKind.Connection,
                    };
                    var text = status switch
                    {
                        HttpStatusCode.Unauthorized =>
                            $"The API server {identity.Server} did not accept the credentials of {identity.User} to {verb} {what} (401 Unauthorized): is the client certificate signed by the cluster CA and still valid?",
                        HttpStatusCode.Forbidden =>
                            $"{identity.User} may not {verb} {what} on {identity.Server} (403 Forbidden): {message}",
                        _ => $"{verb} {what} on {identity.Server} failed ({(int)status} {reason ?? status.ToString()}): {message}",
                    };
                    return new KubeletApiException(text, category, status, reason, what, e);
                }
            case HttpRequestException or IOException when Innermost(e) is ResponseTooLargeException tooLarge:
                return new KubeletApiException($"The API server {identity.Server} sent too much to {verb} {what}: {tooLarge.Message}",
                    KubeletErrorKind.InvalidData, null, null, identity.Server, e);
            case HttpRequestException or SocketException or IOException:
                return new KubeletApiException(
                    $"Cannot reach the API server {identity.Server} to {verb} {what}: {Innermost(e).Message}",
                    KubeletErrorKind.Connection, null, null, identity.Server, e);
            case TaskCanceledException or TimeoutException:
                return new KubeletApiException(
                    $"The API server {identity.Server} did not answer in time to {verb} {what}.",
                    KubeletErrorKind.Timeout, null, null, identity.Server, e);
            default:
                return null;
        }
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }

    private static (string? Reason, string? Message) ReadStatus(string? content)
    {
        if (string.IsNullOrWhiteSpace(content)) return (null, null);
        try
        {
            using var doc = JsonDocument.Parse(content);
            var root = doc.RootElement;
            var reason = root.TryGetProperty("reason", out var r) ? r.GetString() : null;
            var message = root.TryGetProperty("message", out var m) ? m.GetString() : null;
            return (reason, message);
        }
        catch (JsonException)
        {
            return (null, content.Length > 300 ? content[..300] : content);
        }
    }
}
