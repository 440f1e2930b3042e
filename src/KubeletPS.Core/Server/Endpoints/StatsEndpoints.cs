using KubeletPS.Core.Runtime;
using KubeletPS.Core.Stats;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace KubeletPS.Core.Server.Endpoints;

/// <summary>
/// /stats/summary and /metrics/resource (kubelet's pkg/kubelet/server/stats handler and resource metrics collector),
/// both from the agent's one <see cref="CriStatsProvider"/>. The summary serves the cached CPU rates ("external calls to
/// the summary API use cached stats"); the agent's sampler moves them every 10 s, as kubelet's eviction manager does.
/// </summary>
internal static class StatsEndpoints
{
    /// <summary>Go's ParseForm: up to 10 MiB of form, values of any length within it.</summary>
    private static readonly FormOptions SummaryForm = new()
    {
        ValueLengthLimit = (int)KubeletServerLimits.MaxFormBytes,
        KeyLengthLimit = (int)KubeletServerLimits.MaxFormBytes,
        ValueCountLimit = (int)KubeletServerLimits.MaxFormBytes,
        MultipartBodyLengthLimit = KubeletServerLimits.MaxFormBytes,
    };

    public static async Task SummaryAsync(KubeletRequest request)
    {
        var http = request.Http;
        // kubelet's handleSummary: the form first (only_cpu_and_memory=true in the query or, POST, the body), then the stats.
        var only = http.Request.Query["only_cpu_and_memory"].ToString();
        if (only.Length == 0 && HttpMethods.IsPost(http.Request.Method) && http.Request.HasFormContentType)
        {
            try
            {
                only = (await http.Request.ReadFormAsync(SummaryForm, request.Aborted).ConfigureAwait(false))["only_cpu_and_memory"].ToString();
            }
            catch (Exception e) when (e is InvalidDataException || e is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge })
            {
                // Go's ParseForm error for a body over 10 MiB, through kubelet's handleError.
                request.Server.Log.Warning($"/stats/summary: parse form failed: {e.Message}");
                http.Response.Headers.Connection = "close";
                await KubeletResponses.WriteTextAsync(http, 500, "Internal Error: parse form failed: http: POST too large", request.Aborted).ConfigureAwait(false);
                return;
            }
        }
        if (request.Server.Stats is not { } stats)
        {
            await KubeletResponses.WriteTextAsync(http, 500, "Internal Error: no stats provider\n", request.Aborted).ConfigureAwait(false);
            return;
        }
        Summary summary;
        try
        {
            summary = only == "true"
                ? await stats.GetCpuAndMemoryStatsAsync(request.Aborted).ConfigureAwait(false)
                : await stats.GetSummaryAsync(updateCpuUsage: false, request.Aborted).ConfigureAwait(false);
        }
        catch (KubeletRuntimeException e)
        {
            // kubelet's handleError: 500 "Internal Error: <err>".
            request.Server.Log.Warning($"/stats/summary: {e.Message}");
            await KubeletResponses.WriteTextAsync(http, 500, $"Internal Error: failed to get summary stats: {e.Message}\n", request.Aborted).ConfigureAwait(false);
            return;
        }
        await KubeletResponses.WriteJsonAsync(http, summary, Summary.JsonOptions, request.Aborted).ConfigureAwait(false);
    }

    public static async Task ResourceMetricsAsync(KubeletRequest request)
    {
        Summary? summary = null;
        if (request.Server.Stats is { } stats)
        {
            try { summary = await stats.GetCpuAndMemoryStatsAsync(request.Aborted).ConfigureAwait(false); }
            catch (KubeletRuntimeException e) { request.Server.Log.Warning($"Error getting summary for resourceMetric prometheus endpoint: {e.Message}"); }
        }
        var http = request.Http;
        http.Response.StatusCode = 200;
        http.Response.ContentType = ResourceMetricsWriter.ContentType;
        if (HttpMethods.IsHead(http.Request.Method)) return;
        // Without a summary only scrape_error 1 is written, as kubelet's collector does.
        await http.Response.WriteAsync(ResourceMetricsWriter.Write(summary), request.Aborted).ConfigureAwait(false);
    }
}
