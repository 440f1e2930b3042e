using Microsoft.AspNetCore.Http;

namespace KubeletPS.Core.Server.Streaming;

/// <summary>
/// The kubelet server's /exec, /attach, /portForward and /run endpoints (server.go getExec,
/// getAttach, getPortForward, getRun): resolve the pod from the kubelet's pods and the container
/// from the runtime, ask CRI for the streaming URL, then proxy the upgraded connection to the
/// runtime's streaming server. Authentication and authorization (nodes/proxy) happen before, in
/// the server's filter.
/// </summary>
public sealed class KubeletStreamingHandler(StreamingRuntime runtime, UpgradeAwareProxy proxy)
{
    private readonly StreamingRuntime _runtime = runtime ?? throw new ArgumentNullException(nameof(runtime));
    private readonly UpgradeAwareProxy _proxy = proxy ?? throw new ArgumentNullException(nameof(proxy));

    public UpgradeAwareProxy Proxy => _proxy;

    /// <summary>True when <paramref name="path"/> is one of the streaming endpoints (the server routes it here).</summary>
    public static bool Handles(string path) => StreamingRequest.FromPath(path) is not null;

    /// <summary>Serves the request; a path that is not a streaming endpoint gets 404.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = StreamingRequest.FromPath(context.Request.Path.Value ?? "");
        var method = context.Request.Method;
        if (request is null)
        {
            await UpgradeAwareProxy.WriteTextAsync(context, StatusCodes.Status404NotFound, "404 page not found").ConfigureAwait(false);
            return;
        }

        // go-restful's 405 for a route registered with other methods.
        var allowed = request.Endpoint == StreamingEndpoint.Run ? method == HttpMethods.Post : method == HttpMethods.Get || method == HttpMethods.Post;
        if (!allowed)
        {
            await UpgradeAwareProxy.WriteTextAsync(context, StatusCodes.Status405MethodNotAllowed, "405: Method Not Allowed").ConfigureAwait(false);
            return;
        }

        try
        {
            await ServeAsync(context, request).ConfigureAwait(false);
        }
        catch (StreamingRequestException e) when (!context.Response.HasStarted)
        {
            await UpgradeAwareProxy.WriteTextAsync(context, e.StatusCode, e.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
    }

    private async Task ServeAsync(HttpContext context, StreamingRequest request)
    {
        var query = context.Request.Query;
        var aborted = context.RequestAborted;
        switch (request.Endpoint)
        {
            case StreamingEndpoint.Exec:
            {
                var streams = StreamingRequest.ParseStreams(query);
                var pod = FindPod(request);
                var url = await _runtime.GetExecAsync(pod, request.ContainerName!, query["command"].OfType<string>().ToList(), streams, aborted).ConfigureAwait(false);
                await _proxy.ProxyAsync(context, url).ConfigureAwait(false);
                break;
            }
            case StreamingEndpoint.Attach:
            {
                var streams = StreamingRequest.ParseStreams(query);
                var pod = FindPod(request);
                var url = await _runtime.GetAttachAsync(pod, request.ContainerName!, streams, aborted).ConfigureAwait(false);
                await _proxy.ProxyAsync(context, url).ConfigureAwait(false);
                break;
            }
            case StreamingEndpoint.PortForward:
            {
                var ports = StreamingRequest.ParsePorts(query, StreamingRequest.IsWebSocketRequest(context.Request));
                var pod = FindPod(request);
                if (!string.IsNullOrEmpty(request.PodUid) && pod.Metadata.Uid != request.PodUid)
                {
                    throw new StreamingRequestException(StatusCodes.Status404NotFound, "pod not found");
                }

                var url = await _runtime.GetPortForwardAsync(pod, ports, aborted).ConfigureAwait(false);
                await _proxy.ProxyAsync(context, url).ConfigureAwait(false);
                break;
            }
            case StreamingEndpoint.Run:
            {
                var pod = FindPod(request);
                // For legacy reasons, run uses "cmd" split on spaces, not exec's "command".
                var command = (query["cmd"].ToString()).Split(' ');
                var output = await _runtime.RunInContainerAsync(pod, request.ContainerName!, command, aborted).ConfigureAwait(false);
                // writeJSONResponse: the output as is, labelled JSON as kubelet does.
                context.Response.StatusCode = StatusCodes.Status200OK;
                if (output.Length > 0)
                {
                    context.Response.ContentType = "application/json";
                    context.Response.ContentLength = output.Length;
                    await context.Response.Body.WriteAsync(output, aborted).ConfigureAwait(false);
                }

                break;
            }
        }
    }

    private k8s.Models.V1Pod FindPod(StreamingRequest request) =>
        _runtime.GetPodByName(request.PodNamespace, request.PodName)
        ?? throw new StreamingRequestException(StatusCodes.Status404NotFound, "pod does not exist");
}
