using System.Text.Json;
using k8s;
using k8s.Models;
using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Server.Endpoints;

/// <summary>/pods (the PodList this node runs) and /configz (the effective KubeletConfiguration).</summary>
internal static class NodeEndpoints
{
    private static readonly JsonSerializerOptions ConfigzJson = new() { WriteIndented = false };

    /// <summary>As kubelet's handlePods: every pod the node runs, static pods included, with its latest status.</summary>
    public static async Task PodsAsync(KubeletRequest request)
    {
        // A snapshot: serialising never holds the pod engine's locks.
        var pods = request.Server.Pods();
        var list = new V1PodList { ApiVersion = "v1", Kind = "PodList", Metadata = new V1ListMeta(), Items = pods.ToList() };
        var http = request.Http;
        http.Response.StatusCode = 200;
        http.Response.ContentType = "application/json";
        if (Microsoft.AspNetCore.Http.HttpMethods.IsHead(http.Request.Method)) return;
        var bytes = System.Text.Encoding.UTF8.GetBytes(KubernetesJson.Serialize(list));
        await http.Response.Body.WriteAsync(bytes, request.Aborted).ConfigureAwait(false);
    }

    /// <summary>As kubelet's /configz: {"kubeletconfig": {...}} with the effective values (durations in Go form).</summary>
    public static Task ConfigzAsync(KubeletRequest request)
    {
        var configuration = request.Server.Configuration ?? new KubeletConfiguration();
        var document = new Dictionary<string, object> { ["kubeletconfig"] = ConfigSettings.ToDictionary(configuration) };
        return KubeletResponses.WriteJsonAsync(request.Http, document, ConfigzJson, request.Aborted);
    }
}

/// <summary>/metrics and /metrics/probes: <see cref="KubeletMetrics"/> in the Prometheus text format.</summary>
internal static class MetricsEndpoint
{
    public static Task HandleAsync(KubeletRequest request) =>
        request.Server.Metrics is { } metrics ? WriteAsync(request, metrics.Render) : KubeletResponses.NotFoundAsync(request.Http, request.Aborted);

    /// <summary>kubelet's probe metrics registry alone: prober_probe_total and prober_probe_duration_seconds.</summary>
    public static Task ProbesAsync(KubeletRequest request) =>
        request.Server.Metrics is { } metrics ? WriteAsync(request, metrics.Observed.Probes.Render) : KubeletResponses.NotFoundAsync(request.Http, request.Aborted);

    private static Task WriteAsync(KubeletRequest request, Func<string> render)
    {
        var http = request.Http;
        http.Response.StatusCode = 200;
        http.Response.ContentType = KubeletMetrics.ContentType;
        return Microsoft.AspNetCore.Http.HttpMethods.IsHead(http.Request.Method) ? Task.CompletedTask
            : Microsoft.AspNetCore.Http.HttpResponseWritingExtensions.WriteAsync(http.Response, render(), request.Aborted);
    }
}
