namespace KubeletPS.Core.Runtime.Remote;

// CRI's streaming calls: Exec, Attach and PortForward answer with a URL on the runtime's streaming server.
public sealed partial class CriRuntimeClient
{
    /// <summary>
    /// Asks the runtime to prepare an exec session; returns the URL on the runtime's streaming
    /// server that the kubelet proxies the client's upgraded connection to.
    /// </summary>
    public async Task<Uri> ExecAsync(string containerId, IReadOnlyList<string> command, StreamingOptions streams, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(streams);
        var request = new Cri.ExecRequest { ContainerId = containerId, Tty = streams.Tty, Stdin = streams.Stdin, Stdout = streams.Stdout, Stderr = streams.Stderr };
        request.Cmd.AddRange(command);
        var response = await CallAsync("Exec", o => _runtime.ExecAsync(request, o), cancellationToken).ConfigureAwait(false);
        return StreamingUrl("Exec", response.Url);
    }

    /// <summary>Asks the runtime to prepare an attach session to the container's main process; returns its streaming URL.</summary>
    public async Task<Uri> AttachAsync(string containerId, StreamingOptions streams, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(streams);
        var request = new Cri.AttachRequest { ContainerId = containerId, Tty = streams.Tty, Stdin = streams.Stdin, Stdout = streams.Stdout, Stderr = streams.Stderr };
        var response = await CallAsync("Attach", o => _runtime.AttachAsync(request, o), cancellationToken).ConfigureAwait(false);
        return StreamingUrl("Attach", response.Url);
    }

    /// <summary>Asks the runtime to prepare a port forward into the sandbox's network namespace; returns its streaming URL.</summary>
    public async Task<Uri> PortForwardAsync(string podSandboxId, IReadOnlyList<int> ports, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ports);
        var request = new Cri.PortForwardRequest { PodSandboxId = podSandboxId };
        request.Port.AddRange(ports);
        var response = await CallAsync("PortForward", o => _runtime.PortForwardAsync(request, o), cancellationToken).ConfigureAwait(false);
        return StreamingUrl("PortForward", response.Url);
    }

    private Uri StreamingUrl(string operation, string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new KubeletRuntimeException(Endpoint, operation, RuntimeErrorKind.RuntimeError,
                $"container runtime endpoint {Endpoint}: {operation} returned an invalid streaming URL '{url}'");
        }

        return uri;
    }
}
