using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace KubeletPS.Core.Server;

/// <summary>How the kubelet answers: Go's text/plain error strings, JSON documents.</summary>
public static class KubeletResponses
{
    public static async Task WriteTextAsync(HttpContext http, int status, string body, CancellationToken cancellationToken)
    {
        if (http.Response.HasStarted) return;
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/plain; charset=utf-8";
        http.Response.Headers.XContentTypeOptions = "nosniff";
        if (HttpMethods.IsHead(http.Request.Method)) return;
        await http.Response.WriteAsync(body, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Go's http.NotFound.</summary>
    public static Task NotFoundAsync(HttpContext http, CancellationToken cancellationToken) =>
        WriteTextAsync(http, 404, "404 page not found\n", cancellationToken);

    public static async Task WriteJsonAsync<T>(HttpContext http, T value, JsonSerializerOptions options, CancellationToken cancellationToken)
    {
        http.Response.StatusCode = 200;
        http.Response.ContentType = "application/json";
        if (HttpMethods.IsHead(http.Request.Method)) return;
        await JsonSerializer.SerializeAsync(http.Response.Body, value, options, cancellationToken).ConfigureAwait(false);
    }
}
