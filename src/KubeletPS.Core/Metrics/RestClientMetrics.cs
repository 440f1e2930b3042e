using System.Globalization;

namespace KubeletPS.Core.Metrics;

/// <summary>
/// client-go's rest_client_requests_total{code,method,host}: every request the process sends to an API server,
/// counted where it is sent (<see cref="RestClientMetricsHandler"/> in the KubernetesClient pipeline and
/// <see cref="Api.ApiRequester"/>). Process-wide, as client-go's own registry is.
/// </summary>
public static class RestClientMetrics
{
    public static Counter Requests { get; } = new("rest_client_requests_total",
        "[ALPHA] Number of HTTP requests, partitioned by status code, method, and host.", "code", "method", "host");

    /// <summary>A request that got an answer (<paramref name="status"/>) or none (null: client-go's code "&lt;error&gt;").</summary>
    public static void Record(Uri uri, string method, int? status) =>
        Requests.Inc(status?.ToString(CultureInfo.InvariantCulture) ?? "<error>", method.ToUpperInvariant(), uri.Authority);
}

/// <summary>Counts each request of a KubernetesClient in <see cref="RestClientMetrics.Requests"/>.</summary>
public sealed class RestClientMetricsHandler : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            if (request.RequestUri is { } failed) RestClientMetrics.Record(failed, request.Method.Method, null);
            throw;
        }
        if (request.RequestUri is { } uri) RestClientMetrics.Record(uri, request.Method.Method, (int)response.StatusCode);
        return response;
    }
}
