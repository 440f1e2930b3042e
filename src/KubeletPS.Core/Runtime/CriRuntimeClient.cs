using System.Net.Sockets;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;

namespace KubeletPS.Core.Runtime;

/// <summary>
/// A CRI (runtime.v1) client over a unix socket, as the kubelet's remote runtime service.
/// Every call carries a deadline (the kubelet's runtimeRequestTimeout) and turns failures into
/// <see cref="KubeletRuntimeException"/> naming the endpoint and the operation.
/// </summary>
public sealed class CriRuntimeClient : IRuntimeService, IImageService, IAsyncDisposable, IDisposable
{
    /// <summary>The kubelet's default runtimeRequestTimeout.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromMinutes(2);

    /// <summary>The CRI version the kubelet announces in Version.</summary>
    public const string KubeletApiVersion = "v1";

    private readonly GrpcChannel _channel;
    private readonly Cri.RuntimeService.RuntimeServiceClient _runtime;
    private readonly Cri.ImageService.ImageServiceClient _images;

    public CriRuntimeClient(string endpoint, TimeSpan? requestTimeout = null)
    {
        SocketPath = RuntimeEndpoint.ToSocketPath(endpoint);
        Endpoint = "unix://" + SocketPath;
        RequestTimeout = requestTimeout ?? DefaultRequestTimeout;
        if (RequestTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(requestTimeout), requestTimeout, "The request timeout must be positive.");
        }

        var socketPath = SocketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            // A restarted runtime must be reached again without recreating the client.
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            EnableMultipleHttp2Connections = true,
        };
        _channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            // ExecSync output may be up to 16 MiB per stream (CRI caps it there).
            MaxReceiveMessageSize = 40 * 1024 * 1024,
        });
        _runtime = new Cri.RuntimeService.RuntimeServiceClient(_channel);
        _images = new Cri.ImageService.ImageServiceClient(_channel);
    }

    /// <summary>The endpoint in <c>unix:///path</c> form.</summary>
    public string Endpoint { get; }

    public string SocketPath { get; }

    /// <summary>Deadline applied to each call (runtimeRequestTimeout).</summary>
    public TimeSpan RequestTimeout { get; }

    /// <summary>Calls made through this client per CRI operation (kubelet's runtime_operations_total and _duration_seconds).</summary>
    public RuntimeOperationStats Operations { get; } = new();

    // ---- Runtime ----

    public async Task<RuntimeVersionInfo> VersionAsync(CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("Version", o => _runtime.VersionAsync(new Cri.VersionRequest { Version = KubeletApiVersion }, o), cancellationToken).ConfigureAwait(false);
        return new RuntimeVersionInfo(response.RuntimeName, response.RuntimeVersion, response.RuntimeApiVersion);
    }

    public async Task<RuntimeStatusInfo> StatusAsync(CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("Status", o => _runtime.StatusAsync(new Cri.StatusRequest(), o), cancellationToken).ConfigureAwait(false);
        return CriMapping.FromCri(response.Status) with { SupplementalGroupsPolicySupported = response.Features?.SupplementalGroupsPolicy == true };
    }

    /// <summary>Status with verbose: the runtime's own information (containerd: "config", its CRI plugin configuration as JSON).</summary>
    public async Task<IReadOnlyDictionary<string, string>> StatusInfoAsync(CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("Status", o => _runtime.StatusAsync(new Cri.StatusRequest { Verbose = true }, o), cancellationToken).ConfigureAwait(false);
        return response.Info.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
    }

    /// <summary>
    /// The cgroup driver the runtime reports through RuntimeConfig ("systemd" or "cgroupfs"), as
    /// kubelet asks it at start; null when the runtime does not implement the call (containerd 1.x).
    /// </summary>
    public async Task<string?> RuntimeCgroupDriverAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var response = await CallAsync("RuntimeConfig", o => _runtime.RuntimeConfigAsync(new Cri.RuntimeConfigRequest(), o), cancellationToken).ConfigureAwait(false);
            if (response.Linux is null) return null;
            return response.Linux.CgroupDriver == Cri.CgroupDriver.Systemd ? "systemd" : "cgroupfs";
        }
        catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.Unimplemented)
        {
            return null;
        }
    }

    // ---- Pod sandboxes ----

    /// <summary>Creates and starts a pod sandbox; returns its id.</summary>
    public async Task<string> RunPodSandboxAsync(PodSandboxSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var request = new Cri.RunPodSandboxRequest { Config = CriMapping.ToCri(spec), RuntimeHandler = spec.RuntimeHandler ?? string.Empty };
        var response = await CallAsync("RunPodSandbox", o => _runtime.RunPodSandboxAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.PodSandboxId;
    }

    public Task StopPodSandboxAsync(string podSandboxId, CancellationToken cancellationToken = default)
        => CallAsync("StopPodSandbox", o => _runtime.StopPodSandboxAsync(new Cri.StopPodSandboxRequest { PodSandboxId = podSandboxId }, o), cancellationToken);

    public Task RemovePodSandboxAsync(string podSandboxId, CancellationToken cancellationToken = default)
        => CallAsync("RemovePodSandbox", o => _runtime.RemovePodSandboxAsync(new Cri.RemovePodSandboxRequest { PodSandboxId = podSandboxId }, o), cancellationToken);

    public async Task<SandboxStatusInfo> PodSandboxStatusAsync(string podSandboxId, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("PodSandboxStatus", o => _runtime.PodSandboxStatusAsync(new Cri.PodSandboxStatusRequest { PodSandboxId = podSandboxId }, o), cancellationToken).ConfigureAwait(false);
        return CriMapping.FromCri(response.Status);
    }

    public async Task<IReadOnlyList<PodSandboxInfo>> ListPodSandboxesAsync(PodSandboxFilter? filter = null, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("ListPodSandbox", o => _runtime.ListPodSandboxAsync(new Cri.ListPodSandboxRequest { Filter = CriMapping.ToCri(filter) }, o), cancellationToken).ConfigureAwait(false);
        return response.Items.Select(CriMapping.FromCri).ToArray();
    }

    // ---- Containers ----

    /// <summary>Creates a container in a sandbox. The sandbox spec is the one the sandbox was run with.</summary>
    public async Task<string> CreateContainerAsync(string podSandboxId, ContainerSpec spec, PodSandboxSpec sandboxSpec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(sandboxSpec);
        var request = new Cri.CreateContainerRequest
        {
            PodSandboxId = podSandboxId,
            Config = CriMapping.ToCri(spec, sandboxSpec),
            SandboxConfig = CriMapping.ToCri(sandboxSpec),
        };
        var response = await CallAsync("CreateContainer", o => _runtime.CreateContainerAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.ContainerId;
    }

    public Task StartContainerAsync(string containerId, CancellationToken cancellationToken = default)
        => CallAsync("StartContainer", o => _runtime.StartContainerAsync(new Cri.StartContainerRequest { ContainerId = containerId }, o), cancellationToken);

    /// <summary>Stops a container: the stop signal, then SIGKILL after <paramref name="gracePeriod"/>.</summary>
    public Task StopContainerAsync(string containerId, TimeSpan gracePeriod, CancellationToken cancellationToken = default)
    {
        var seconds = (long)Math.Ceiling(Math.Max(0, gracePeriod.TotalSeconds));
        // The runtime waits the grace period inside the call, so the deadline must cover it.
        return CallAsync("StopContainer", o => _runtime.StopContainerAsync(new Cri.StopContainerRequest { ContainerId = containerId, Timeout = seconds }, o), cancellationToken, TimeSpan.FromSeconds(seconds));
    }

    public Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken = default)
        => CallAsync("RemoveContainer", o => _runtime.RemoveContainerAsync(new Cri.RemoveContainerRequest { ContainerId = containerId }, o), cancellationToken);

    public async Task<IReadOnlyList<ContainerInfo>> ListContainersAsync(ContainerFilter? filter = null, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("ListContainers", o => _runtime.ListContainersAsync(new Cri.ListContainersRequest { Filter = CriMapping.ToCri(filter) }, o), cancellationToken).ConfigureAwait(false);
        return response.Containers.Select(CriMapping.FromCri).ToArray();
    }

    public async Task<ContainerStatusInfo> ContainerStatusAsync(string containerId, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("ContainerStatus", o => _runtime.ContainerStatusAsync(new Cri.ContainerStatusRequest { ContainerId = containerId }, o), cancellationToken).ConfigureAwait(false);
        return CriMapping.FromCri(response.Status);
    }

    public Task UpdateContainerResourcesAsync(string containerId, ContainerResourcesSpec resources, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resources);
        var request = new Cri.UpdateContainerResourcesRequest { ContainerId = containerId, Linux = CriMapping.ToCri(resources) };
        return CallAsync("UpdateContainerResources", o => _runtime.UpdateContainerResourcesAsync(request, o), cancellationToken);
    }

    /// <summary>Asks the runtime to reopen the container's log file (after the kubelet rotated it).</summary>
    public Task ReopenContainerLogAsync(string containerId, CancellationToken cancellationToken = default)
        => CallAsync("ReopenContainerLog", o => _runtime.ReopenContainerLogAsync(new Cri.ReopenContainerLogRequest { ContainerId = containerId }, o), cancellationToken);

    /// <summary>Runs a command in a container and waits for it (probes, kubectl exec without a TTY).</summary>
    /// <param name="timeout">How long the command may run; <see cref="TimeSpan.Zero"/> means no limit.</param>
    public async Task<ExecSyncResult> ExecSyncAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var seconds = (long)Math.Ceiling(Math.Max(0, timeout.TotalSeconds));
        var request = new Cri.ExecSyncRequest { ContainerId = containerId, Timeout = seconds };
        request.Cmd.AddRange(command);
        Cri.ExecSyncResponse response;
        try
        {
            response = await CallAsync("ExecSync", o => _runtime.ExecSyncAsync(request, o), cancellationToken, TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
        }
        catch (KubeletRuntimeException e) when (e.Kind == RuntimeErrorKind.Timeout && seconds > 0)
        {
            // The runtime ends the command at its timeout and answers DeadlineExceeded ("timeout 1s exceeded"), well before our deadline.
            throw new KubeletRuntimeException(Endpoint, "ExecSync", RuntimeErrorKind.Timeout,
                $"container runtime endpoint {Endpoint}: ExecSync in container {containerId}: command timed out after {seconds}s ({(e.InnerException as RpcException)?.Status.Detail})", e.RpcStatus, e);
        }
        return new ExecSyncResult(response.ExitCode, Encoding.UTF8.GetString(response.Stdout.Span), Encoding.UTF8.GetString(response.Stderr.Span));
    }

    // ---- Streaming ----

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

    // ---- Stats ----

    /// <summary>Stats of the runtime's running containers (ListContainerStats), optionally of one sandbox.</summary>
    public async Task<IReadOnlyList<ContainerStatsInfo>> ListContainerStatsAsync(string? podSandboxId = null, CancellationToken cancellationToken = default)
    {
        var request = new Cri.ListContainerStatsRequest { Filter = new Cri.ContainerStatsFilter { PodSandboxId = podSandboxId ?? string.Empty } };
        var response = await CallAsync("ListContainerStats", o => _runtime.ListContainerStatsAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.Stats.Select(CriStatsMapping.FromCri).ToArray();
    }

    /// <summary>The runtime's verbose information about a sandbox (PodSandboxStatus with verbose=true).</summary>
    public async Task<SandboxRuntimeDetails> PodSandboxDetailsAsync(string podSandboxId, CancellationToken cancellationToken = default)
    {
        var request = new Cri.PodSandboxStatusRequest { PodSandboxId = podSandboxId, Verbose = true };
        var response = await CallAsync("PodSandboxStatus", o => _runtime.PodSandboxStatusAsync(request, o), cancellationToken).ConfigureAwait(false);
        return SandboxRuntimeDetails.FromVerboseInfo(new Dictionary<string, string>(response.Info));
    }

    // ---- Images ----

    public async Task<IReadOnlyList<ImageInfo>> ListImagesAsync(string? image = null, CancellationToken cancellationToken = default)
    {
        var request = new Cri.ListImagesRequest();
        if (!string.IsNullOrEmpty(image))
        {
            request.Filter = new Cri.ImageFilter { Image = new Cri.ImageSpec { Image = image } };
        }

        var response = await CallAsync("ListImages", o => _images.ListImagesAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.Images.Select(CriMapping.FromCri).ToArray();
    }

    /// <summary>Returns the image, or null when the runtime does not have it.</summary>
    public async Task<ImageInfo?> ImageStatusAsync(string image, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(image);
        var response = await CallAsync("ImageStatus", o => _images.ImageStatusAsync(new Cri.ImageStatusRequest { Image = new Cri.ImageSpec { Image = image } }, o), cancellationToken).ConfigureAwait(false);
        return response.Image is null ? null : CriMapping.FromCri(response.Image);
    }

    /// <summary>Pulls an image; returns the image reference (id) the runtime resolved it to.</summary>
    public Task<string> PullImageAsync(string image, PodSandboxSpec? sandboxSpec = null, CancellationToken cancellationToken = default)
        => PullImageAsync(image, null, sandboxSpec, cancellationToken);

    /// <summary>Pulls an image with the registry credentials in CRI's AuthConfig (none when null).</summary>
    public async Task<string> PullImageAsync(string image, RegistryAuth? auth, PodSandboxSpec? sandboxSpec, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(image);
        var request = new Cri.PullImageRequest
        {
            Image = new Cri.ImageSpec { Image = image },
            Auth = auth is null ? null : new Cri.AuthConfig
            {
                Username = auth.Username,
                Password = auth.Password,
                Auth = auth.Auth,
                ServerAddress = auth.ServerAddress,
                IdentityToken = auth.IdentityToken,
                RegistryToken = auth.RegistryToken,
            },
            SandboxConfig = sandboxSpec is null ? null : CriMapping.ToCri(sandboxSpec),
        };
        var response = await CallAsync("PullImage", o => _images.PullImageAsync(request, o), cancellationToken).ConfigureAwait(false);
        return response.ImageRef;
    }

    public Task RemoveImageAsync(string image, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(image);
        return CallAsync("RemoveImage", o => _images.RemoveImageAsync(new Cri.RemoveImageRequest { Image = new Cri.ImageSpec { Image = image } }, o), cancellationToken);
    }

    public async Task<IReadOnlyList<ImageFilesystemInfo>> ImageFsInfoAsync(CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("ImageFsInfo", o => _images.ImageFsInfoAsync(new Cri.ImageFsInfoRequest(), o), cancellationToken).ConfigureAwait(false);
        return response.ImageFilesystems.Select(CriMapping.FromCri).ToArray();
    }

    // ---- Plumbing ----

    private async Task<T> CallAsync<T>(string operation, Func<CallOptions, AsyncUnaryCall<T>> call, CancellationToken cancellationToken, TimeSpan extraTime = default)
    {
        var options = new CallOptions(deadline: DateTime.UtcNow + RequestTimeout + extraTime, cancellationToken: cancellationToken);
        Operations.Begin(operation);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var failed = true;
        try
        {
            var response = await call(options).ResponseAsync.ConfigureAwait(false);
            failed = false;
            return response;
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException($"container runtime endpoint {Endpoint}: {operation} cancelled", ex, cancellationToken);
        }
        catch (RpcException ex)
        {
            throw Translate(operation, ex);
        }
        finally
        {
            Operations.Record(operation, System.Diagnostics.Stopwatch.GetElapsedTime(started), failed);
        }
    }

    private KubeletRuntimeException Translate(string operation, RpcException ex)
    {
        var status = ex.StatusCode.ToString();
        if (ex.StatusCode == StatusCode.Unavailable)
        {
            if (!File.Exists(SocketPath))
            {
                return new KubeletRuntimeException(Endpoint, operation, RuntimeErrorKind.EndpointMissing,
                    $"container runtime endpoint {Endpoint}: socket {SocketPath} does not exist ({operation})", status, ex);
            }

            var socketError = FindSocketError(ex);
            if (socketError is not null)
            {
                return new KubeletRuntimeException(Endpoint, operation, RuntimeErrorKind.ConnectionFailed,
                    $"container runtime endpoint {Endpoint}: {operation} failed: cannot connect to {SocketPath}: {socketError.SocketErrorCode} ({socketError.Message})", status, ex);
            }
        }

        var kind = ex.StatusCode switch
        {
            StatusCode.NotFound => RuntimeErrorKind.NotFound,
            StatusCode.DeadlineExceeded => RuntimeErrorKind.Timeout,
            StatusCode.Unimplemented => RuntimeErrorKind.Unimplemented,
            StatusCode.Unavailable => RuntimeErrorKind.ConnectionFailed,
            _ => RuntimeErrorKind.RuntimeError,
        };
        var detail = kind == RuntimeErrorKind.Timeout
            ? $"no answer within {RequestTimeout}"
            : ex.Status.Detail;
        return new KubeletRuntimeException(Endpoint, operation, kind,
            $"container runtime endpoint {Endpoint}: {operation} failed: {status}: {detail}", status, ex);
    }

    private static SocketException? FindSocketError(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (e is SocketException socketException)
            {
                return socketException;
            }

            if (e is RpcException rpc && rpc.Status.DebugException is { } debug && FindSocketError(debug) is { } found)
            {
                return found;
            }
        }

        return null;
    }

    public void Dispose() => _channel.Dispose();

    public ValueTask DisposeAsync()
    {
        _channel.Dispose();
        return ValueTask.CompletedTask;
    }
}
