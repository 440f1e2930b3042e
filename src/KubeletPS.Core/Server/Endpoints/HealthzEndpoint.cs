namespace KubeletPS.Core.Server.Endpoints;

/// <summary>/healthz, /healthz/{check} and /healthz?verbose, on the kubelet port and on the plain-HTTP healthz port.</summary>
internal static class HealthzEndpoint
{
    public static async Task HandleAsync(KubeletRequest request)
    {
        var query = request.Http.Request.Query;
        var exclude = query["exclude"].Where(e => !string.IsNullOrEmpty(e)).Select(e => e!).ToHashSet(StringComparer.Ordinal);
        var (status, body, failures) = request.Server.Health.Evaluate(request.Remainder.Length == 0 ? null : request.Remainder, query.ContainsKey("verbose"), exclude);
        foreach (var failure in failures) request.Server.Log.Warning($"healthz check failed: {failure}");
        await KubeletResponses.WriteTextAsync(request.Http, status, body, request.Aborted).ConfigureAwait(false);
    }
}
