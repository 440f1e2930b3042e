using System.Net.Sockets;
using k8s.Models;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.Probes;

public enum ProbeResult { Success, Failure, Unknown }

/// <summary>
/// The outcome of one probe or handler run, with kubelet's message on failure. Unknown means the
/// probe could not be run at all (kubelet's prober error: the runtime failed, a port name is unknown).
/// </summary>
public sealed record ProbeOutcome(ProbeResult Result, string Message)
{
    public static readonly ProbeOutcome Ok = new(ProbeResult.Success, "");

    /// <summary>What kubelet's prober calls the probe's output (an exec probe's combined stdout and stderr); the message when not set.</summary>
    public string? Output { get; init; }
}

/// <summary>
/// Runs probe and lifecycle-hook actions as kubelet's prober does: exec (ExecSync in the container,
/// exit code 0 passes), httpGet (to the pod IP, or the node for host-network pods; 200–399 passes;
/// port by number or by the container's port name), tcpSocket (a connection is success).
/// </summary>
public sealed class Prober(IRuntimeService runtime)
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(30) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public Task<ProbeOutcome> RunAsync(V1Probe probe, V1Container container, string containerId, string? podIp, CancellationToken cancellationToken)
        => RunActionAsync(probe.Exec, probe.HttpGet, probe.TcpSocket, TimeSpan.FromSeconds(Math.Max(1, probe.TimeoutSeconds ?? 1)), container, containerId, podIp, cancellationToken);

    public Task<ProbeOutcome> RunHandlerAsync(V1LifecycleHandler handler, V1Container? container, string containerId, string? podIp, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (handler.Sleep is { } sleep)
            return Task.Delay(TimeSpan.FromSeconds(sleep.Seconds), cancellationToken).ContinueWith(_ => ProbeOutcome.Ok, TaskScheduler.Default);
        return RunActionAsync(handler.Exec, handler.HttpGet, handler.TcpSocket, timeout, container, containerId, podIp, cancellationToken);
    }

    private async Task<ProbeOutcome> RunActionAsync(V1ExecAction? exec, V1HTTPGetAction? httpGet, V1TCPSocketAction? tcp, TimeSpan timeout, V1Container? container, string containerId, string? podIp, CancellationToken cancellationToken)
    {
        try
        {
            if (exec is not null)
            {
                var command = string.Join(' ', exec.Command ?? []);
                try
                {
                    var result = await runtime.ExecSyncAsync(containerId, exec.Command?.ToList() ?? [], timeout, cancellationToken).ConfigureAwait(false);
                    if (result.ExitCode == 0) return ProbeOutcome.Ok;
                    var output = result.Stdout + result.Stderr;
                    var trimmed = output.Trim();
                    return new ProbeOutcome(ProbeResult.Failure, $"command {command} exited with {result.ExitCode}{(trimmed.Length > 0 ? ": " + Truncate(trimmed) : "")}")
                    {
                        // Kubelet's exec prober keeps at most 10 KiB of the output.
                        Output = output.Length > MaxExecOutput ? output[..MaxExecOutput] : output,
                    };
                }
                catch (KubeletRuntimeException e) when (e.Kind is RuntimeErrorKind.Timeout)
                {
                    return new ProbeOutcome(ProbeResult.Failure, $"command \"{command}\" timed out");
                }
            }
            if (httpGet is not null)
            {
                var host = string.IsNullOrEmpty(httpGet.Host) ? podIp ?? "127.0.0.1" : httpGet.Host;
                var port = ResolvePort(httpGet.Port, container);
                var scheme = (httpGet.Scheme ?? "HTTP").ToLowerInvariant();
                var path = string.IsNullOrEmpty(httpGet.Path) ? "/" : httpGet.Path.StartsWith('/') ? httpGet.Path : "/" + httpGet.Path;
                var uri = new UriBuilder(scheme, host, port) { Path = path.Split('?')[0], Query = path.Contains('?') ? path[(path.IndexOf('?') + 1)..] : "" }.Uri;
                using var request = new HttpRequestMessage(HttpMethod.Get, uri);
                request.Headers.UserAgent.ParseAdd("kube-probe/1.34");
                request.Headers.Accept.ParseAdd("*/*");
                foreach (var header in httpGet.HttpHeaders ?? [])
                {
                    if (header.Name.Equals("Host", StringComparison.OrdinalIgnoreCase)) request.Headers.Host = header.Value;
                    else request.Headers.TryAddWithoutValidation(header.Name, header.Value);
                }
                using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeoutSource.CancelAfter(timeout);
                try
                {
                    using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeoutSource.Token).ConfigureAwait(false);
                    var code = (int)response.StatusCode;
                    return code is >= 200 and < 400 ? ProbeOutcome.Ok : new ProbeOutcome(ProbeResult.Failure, $"HTTP probe failed with statuscode: {code}");
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return new ProbeOutcome(ProbeResult.Failure, $"Get \"{uri}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
                }
                catch (HttpRequestException e)
                {
                    return new ProbeOutcome(ProbeResult.Failure, $"Get \"{uri}\": {e.Message}");
                }
            }
            if (tcp is not null)
            {
                var host = string.IsNullOrEmpty(tcp.Host) ? podIp ?? "127.0.0.1" : tcp.Host;
                var port = ResolvePort(tcp.Port, container);
                using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeoutSource.CancelAfter(timeout);
                using var client = new TcpClient();
                try
                {
                    await client.ConnectAsync(host, port, timeoutSource.Token).ConfigureAwait(false);
                    return ProbeOutcome.Ok;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return new ProbeOutcome(ProbeResult.Failure, $"dial tcp {host}:{port}: i/o timeout");
                }
                catch (SocketException e)
                {
                    return new ProbeOutcome(ProbeResult.Failure, $"dial tcp {host}:{port}: {e.Message}");
                }
            }
            return new ProbeOutcome(ProbeResult.Unknown, "the probe has no action (exec, httpGet or tcpSocket)");
        }
        catch (ContainerConfigException e)
        {
            return new ProbeOutcome(ProbeResult.Unknown, e.Message);
        }
        catch (KubeletRuntimeException e)
        {
            // The runtime could not run the probe: an error, not a failed check (the worker does not count it).
            return new ProbeOutcome(ProbeResult.Unknown, e.Message);
        }
    }

    /// <summary>A port given as a number, or as the name of one of the container's ports.</summary>
    public static int ResolvePort(IntOrString port, V1Container? container)
    {
        var text = port.Value ?? "";
        if (int.TryParse(text, out var number) && number is > 0 and < 65536) return number;
        var named = container?.Ports?.FirstOrDefault(p => p.Name == text);
        return named?.ContainerPort ?? throw new ContainerConfigException($"port \"{text}\" is neither a number nor the name of a port of the container.");
    }

    private const int MaxExecOutput = 10 * 1024;

    private static string Truncate(string text) => text.Length > 500 ? text[..500] + "…" : text;
}
