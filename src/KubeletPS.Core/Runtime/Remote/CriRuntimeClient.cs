using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;

namespace KubeletPS.Core.Runtime.Remote;

/// <summary>
/// A CRI (runtime.v1) client over a unix socket, as the kubelet's remote runtime service. One file per CRI
/// service as kubelet's cri-client: the runtime service (.Runtime), its streaming calls (.Streaming) and stats
/// (.Stats), the image service (.Images); this file holds the channel and the calls' plumbing.
/// Every call carries a deadline (the kubelet's runtimeRequestTimeout) and turns failures into
/// <see cref="KubeletRuntimeException"/> naming the endpoint and the operation.
/// </summary>
public sealed partial class CriRuntimeClient : IRuntimeService, IImageService, IAsyncDisposable, IDisposable
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

    // ---- Plumbing: every call has the deadline and the error translation ----

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
