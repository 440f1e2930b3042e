using System.Net.Security;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace KubeletPS.Core.Server.Streaming;

/// <summary>Settings of an <see cref="UpgradeAwareProxy"/>.</summary>
public sealed record UpgradeAwareProxyOptions
{
    /// <summary>kubelet's default streamingConnectionIdleTimeout.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromHours(4);

    /// <summary>A stream with no byte in either direction for this long is closed (streamingConnectionIdleTimeout).</summary>
    public TimeSpan IdleTimeout { get; init; } = DefaultIdleTimeout;

    /// <summary>How long connecting to the backend and reading its answer may take (upgradeaware.go uses 10 s for the error body).</summary>
    public TimeSpan BackendTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>TLS client settings for https backends (the API server's kubelet-client certificate, the CA to verify).</summary>
    public SslClientAuthenticationOptions? BackendTls { get; init; }

    /// <summary>Clock of the idle timeout.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    public IKubeletLog Log { get; init; } = NullKubeletLog.Instance;
}

/// <summary>
/// kube's upgrade-aware proxy (apimachinery util/proxy/upgradeaware.go) over Kestrel: the client's
/// upgrade request (SPDY/3.1 with X-Stream-Protocol-Version, or a WebSocket with
/// Sec-WebSocket-*) goes to the backend as an HTTP/1.1 request; the backend's 101 is relayed
/// through <see cref="IHttpUpgradeFeature"/>, any other answer is relayed as is; after a 101
/// the bytes are copied both ways, unparsed, until either side closes or nothing moved for
/// <see cref="UpgradeAwareProxyOptions.IdleTimeout"/>. So the protocol, and the exit code in the
/// error stream's Status, reach the client untouched.
/// </summary>
public sealed class UpgradeAwareProxy(UpgradeAwareProxyOptions options)
{
    /// <summary>Body of kubelet's answer to a streaming request that is not an upgrade (upgradeRequired).</summary>
    public const string UpgradeRequiredMessage = "Upgrade request required";

    /// <summary>An error answer larger than this is cut (it is only ever a Status or a line of text).</summary>
    private const int MaxErrorBodyBytes = 1 << 20;

    // Headers that describe this hop only, or credentials meant for this proxy (the apiserver
    // drops the Authorization header once it has authenticated the request; the backend sees
    // the proxy's own identity, as kube-apiserver's --kubelet-client-certificate).
    private static readonly HashSet<string> NotForwarded = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Authorization", "Proxy-Authorization", "Proxy-Connection", "Keep-Alive", "TE", "Trailer",
        "Transfer-Encoding", "Content-Length", "Expect",
    };

    private static readonly HashSet<string> NotRelayed = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Date", "Server",
    };

    private readonly UpgradeAwareProxyOptions _options = Validate(options);

    public UpgradeAwareProxyOptions Options => _options;

    /// <summary>Number of upgraded streams open now.</summary>
    public int ActiveStreams => Volatile.Read(ref _active);

    private int _active;

    /// <summary>
    /// Proxies <paramref name="context"/>'s upgrade request to <paramref name="location"/> (path and
    /// query taken from it) and returns when the stream has ended.
    /// </summary>
    public async Task ProxyAsync(HttpContext context, Uri location)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(location);
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        if (upgrade is null || !upgrade.IsUpgradableRequest || string.IsNullOrEmpty(context.Request.Headers.Upgrade))
        {
            await WriteTextAsync(context, StatusCodes.Status400BadRequest, UpgradeRequiredMessage).ConfigureAwait(false);
            return;
        }

        var aborted = context.RequestAborted;
        BackendConnection backend;
        BackendResponseHead head;
        using (var connecting = CancellationTokenSource.CreateLinkedTokenSource(aborted))
        {
            connecting.CancelAfter(_options.BackendTimeout);
            try
            {
                backend = await BackendConnection.ConnectAsync(location, _options.BackendTls, connecting.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
            {
                if (aborted.IsCancellationRequested) return;
                // upgradeaware.go: the responder's Error; kubelet's writes 500 with the error text.
                _options.Log.Warning($"Error while proxying request to {location.GetLeftPart(UriPartial.Authority)}: {e.Message}");
                await WriteTextAsync(context, StatusCodes.Status500InternalServerError, $"error dialing backend: {e.Message}").ConfigureAwait(false);
                return;
            }

            try
            {
                await backend.WriteRequestHeadAsync(context.Request.Method, location, ForwardedHeaders(context), connecting.Token).ConfigureAwait(false);
                head = await backend.ReadResponseHeadAsync(connecting.Token).ConfigureAwait(false);
                if (head.StatusCode != StatusCodes.Status101SwitchingProtocols)
                {
                    await RelayErrorAsync(context, backend, head, connecting.Token).ConfigureAwait(false);
                    await backend.DisposeAsync().ConfigureAwait(false);
                    return;
                }
            }
            catch (Exception e) when (e is IOException or InvalidDataException or OperationCanceledException)
            {
                await backend.DisposeAsync().ConfigureAwait(false);
                if (aborted.IsCancellationRequested) return;
                _options.Log.Warning($"Error while proxying request to {location.GetLeftPart(UriPartial.Authority)}: {e.Message}");
                if (!context.Response.HasStarted)
                {
                    await WriteTextAsync(context, StatusCodes.Status500InternalServerError, $"error proxying to backend: {e.Message}").ConfigureAwait(false);
                }

                return;
            }
        }

        await using (backend.ConfigureAwait(false))
        {
            foreach (var (name, value) in head.Headers)
            {
                if (!NotRelayed.Contains(name)) context.Response.Headers.Append(name, value);
            }

            var client = await upgrade.UpgradeAsync().ConfigureAwait(false);
            Interlocked.Increment(ref _active);
            try
            {
                if (!backend.Buffered.IsEmpty)
                {
                    await client.WriteAsync(backend.Buffered, aborted).ConfigureAwait(false);
                    await client.FlushAsync(aborted).ConfigureAwait(false);
                }

                await PumpAsync(client, backend.Stream, aborted).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _active);
            }
        }
    }

    /// <summary>Copies both ways until one direction ends or the stream is idle too long; then both end.</summary>
    private async Task PumpAsync(Stream client, Stream backend, CancellationToken aborted)
    {
        using var done = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var activity = new StreamActivity(_options.TimeProvider);
        var toBackend = CopyAsync(client, backend, activity, done.Token);
        var toClient = CopyAsync(backend, client, activity, done.Token);
        var idle = WatchIdleAsync(activity, done.Token);
        await Task.WhenAny(toBackend, toClient, idle).ConfigureAwait(false);
        if (idle.IsCompletedSuccessfully && !done.IsCancellationRequested)
        {
            _options.Log.Info($"Closing a stream idle for {_options.IdleTimeout} (streamingConnectionIdleTimeout).");
        }

        await done.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(Quietly(toBackend), Quietly(toClient), Quietly(idle)).ConfigureAwait(false);
    }

    private static async Task CopyAsync(Stream from, Stream to, StreamActivity activity, CancellationToken cancellationToken)
    {
        var buffer = new byte[32 * 1024];
        while (true)
        {
            var read = await from.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (read == 0) return;
            activity.Touch();
            await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            await to.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WatchIdleAsync(StreamActivity activity, CancellationToken cancellationToken)
    {
        while (true)
        {
            var remaining = _options.IdleTimeout - activity.IdleFor;
            if (remaining <= TimeSpan.Zero) return;
            await Task.Delay(remaining, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            // A closed or reset peer ends the stream; that is how streams end.
        }
    }

    private static IEnumerable<KeyValuePair<string, string>> ForwardedHeaders(HttpContext context)
    {
        foreach (var (name, values) in context.Request.Headers)
        {
            if (NotForwarded.Contains(name) || name.StartsWith("Impersonate-", StringComparison.OrdinalIgnoreCase)) continue;
            if (string.Equals(name, "X-Forwarded-For", StringComparison.OrdinalIgnoreCase)) continue;
            foreach (var value in values)
            {
                if (value is not null) yield return new(name, value);
            }
        }

        // utilnet.AppendForwardedForHeader
        var prior = context.Request.Headers["X-Forwarded-For"].ToString();
        var client = context.Connection.RemoteIpAddress?.ToString();
        if (client is not null) yield return new("X-Forwarded-For", prior.Length > 0 ? $"{prior}, {client}" : client);
        else if (prior.Length > 0) yield return new("X-Forwarded-For", prior);
    }

    /// <summary>The backend did not upgrade: its status, headers and body go to the client unchanged.</summary>
    private static async Task RelayErrorAsync(HttpContext context, BackendConnection backend, BackendResponseHead head, CancellationToken cancellationToken)
    {
        var body = await backend.ReadBodyAsync(head, MaxErrorBodyBytes, cancellationToken).ConfigureAwait(false);
        context.Response.StatusCode = head.StatusCode;
        foreach (var (name, value) in head.Headers)
        {
            if (!NotRelayed.Contains(name) && !string.Equals(name, "Upgrade", StringComparison.OrdinalIgnoreCase)) context.Response.Headers.Append(name, value);
        }

        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A plain-text error as Go's http.Error writes it (kubelet's responder and go-restful's WriteError).</summary>
    public static async Task WriteTextAsync(HttpContext context, int statusCode, string message)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers["X-Content-Type-Options"] = "nosniff";
        var bytes = Encoding.UTF8.GetBytes(message);
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted).ConfigureAwait(false);
    }

    private static UpgradeAwareProxyOptions Validate(UpgradeAwareProxyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.IdleTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(options), options.IdleTimeout, "IdleTimeout (streamingConnectionIdleTimeout) must be positive.");
        if (options.BackendTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(options), options.BackendTimeout, "BackendTimeout must be positive.");
        return options;
    }

    /// <summary>When a byte last moved in either direction.</summary>
    private sealed class StreamActivity(TimeProvider clock)
    {
        private long _last = clock.GetTimestamp();

        public void Touch() => Volatile.Write(ref _last, clock.GetTimestamp());

        public TimeSpan IdleFor => clock.GetElapsedTime(Volatile.Read(ref _last));
    }
}
