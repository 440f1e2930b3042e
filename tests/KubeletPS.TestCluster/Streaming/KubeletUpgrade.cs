using System.Net.Security;
using System.Net.WebSockets;
using KubeletPS.Core.Server.Streaming;

namespace KubeletPS.TestCluster.Streaming;

/// <summary>
/// What the stream translator and the port-forward tunnel share: the upgrade request to the kubelet (its refusal passed back
/// as the API server's answer), and the end of a relay between the client's WebSocket and the kubelet's connection.
/// </summary>
internal static class KubeletUpgrade
{
    /// <summary>
    /// Connects to the kubelet at <paramref name="location"/> and asks for an upgrade with <paramref name="headers"/>. Null when it
    /// cannot be reached (500 <c>error dialing backend</c>) or does not answer 101 (its answer relayed): the client has its answer.
    /// </summary>
    public static async Task<(BackendConnection Backend, BackendResponseHead Head)?> RequestAsync(HttpContext context, Uri location, SslClientAuthenticationOptions? tls, string method,
        IEnumerable<KeyValuePair<string, string>> headers)
    {
        var aborted = context.RequestAborted;
        BackendConnection backend;
        BackendResponseHead head;
        using (var connecting = CancellationTokenSource.CreateLinkedTokenSource(aborted))
        {
            connecting.CancelAfter(TimeSpan.FromSeconds(10));
            try
            {
                backend = await BackendConnection.ConnectAsync(location, tls, connecting.Token);
                await backend.WriteRequestHeadAsync(method, location, headers, connecting.Token);
                head = await backend.ReadResponseHeadAsync(connecting.Token);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or InvalidDataException or OperationCanceledException
                or System.Security.Authentication.AuthenticationException)
            {
                if (!aborted.IsCancellationRequested)
                    await UpgradeAwareProxy.WriteTextAsync(context, StatusCodes.Status500InternalServerError, $"error dialing backend: {e.Message}");
                return null;
            }
        }
        if (head.StatusCode == StatusCodes.Status101SwitchingProtocols) return (backend, head);
        await using (backend)
        {
            // The kubelet refused (401, 403, 404...): its answer goes back as the API server's.
            var body = await backend.ReadBodyAsync(head, 64 * 1024, aborted);
            context.Response.StatusCode = head.StatusCode;
            context.Response.ContentType = head.Header("Content-Type") ?? "text/plain; charset=utf-8";
            await context.Response.Body.WriteAsync(body, aborted);
        }
        return null;
    }

    /// <summary>
    /// Waits for the first of the two relay directions to end. When the kubelet's ended first, the WebSocket is closed normally
    /// (cancelling a WebSocket call would abort it, 1006) and the client given a moment to answer; then both are stopped.
    /// </summary>
    public static async Task FinishAsync(WebSocket socket, Task toClient, Task fromClient, CancellationTokenSource done)
    {
        var first = await Task.WhenAny(toClient, fromClient);
        if (first == toClient && socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            using var closing = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", closing.Token);
                await fromClient.WaitAsync(closing.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or TimeoutException or IOException or WebSocketException) { }
        }
        await done.CancelAsync();
        try { await Task.WhenAll(toClient, fromClient); }
        catch (Exception e) when (e is OperationCanceledException or IOException or WebSocketException or ObjectDisposedException or InvalidDataException) { }
    }
}
