using System.Globalization;
using System.Text;
using System.Threading.Channels;
using k8s.Models;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Logs;
using Microsoft.AspNetCore.Http;

namespace KubeletPS.Core.Server.Endpoints;

/// <summary>The PodLogOptions the kubelet reads from the query (v1, as the API server passes them on).</summary>
public sealed record ContainerLogRequest(bool Follow, bool Previous, bool Timestamps, int? TailLines, long? LimitBytes, DateTimeOffset? Since)
{
    /// <summary>Parses follow, previous, timestamps, tailLines (or tail), limitBytes, sinceSeconds / sinceTime; null error when valid.</summary>
    public static (ContainerLogRequest? Request, string? Error) Parse(IQueryCollection query, DateTimeOffset now)
    {
        static bool Flag(IQueryCollection q, string name) => q[name].ToString() is "true" or "1" or "True";
        var tail = query["tailLines"].ToString();
        if (query["tail"].ToString() is { Length: > 0 } legacy) tail = legacy == "all" ? "" : legacy;
        int? tailLines = null;
        long? limitBytes = null;
        DateTimeOffset? since = null;
        if (tail.Length > 0)
        {
            // PodLogOptions.TailLines is an int64: a negative one decodes and fails validation (422), a huge one means every line.
            if (!long.TryParse(tail, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var t)) return (null, "{\"message\": \"Unable to decode query.\"}");
            if (t < 0) return (null, "{\"message\": \"Invalid request.\"}");
            tailLines = (int)Math.Min(t, int.MaxValue);
        }
        if (query["limitBytes"].ToString() is { Length: > 0 } limit)
        {
            if (!long.TryParse(limit, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return (null, "{\"message\": \"Unable to decode query.\"}");
            if (l < 1) return (null, "{\"message\": \"Invalid request.\"}");
            limitBytes = l;
        }
        var sinceSeconds = query["sinceSeconds"].ToString();
        var sinceTime = query["sinceTime"].ToString();
        if (sinceSeconds.Length > 0 && sinceTime.Length > 0) return (null, "{\"message\": \"Invalid request.\"}");
        if (sinceSeconds.Length > 0)
        {
            if (!long.TryParse(sinceSeconds, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s)) return (null, "{\"message\": \"Unable to decode query.\"}");
            if (s < 1) return (null, "{\"message\": \"Invalid request.\"}");
            // Seconds beyond what a DateTimeOffset reaches back to mean the whole log (TimeSpan.FromSeconds would overflow).
            since = s >= (now - DateTimeOffset.MinValue).TotalSeconds ? DateTimeOffset.MinValue : now - TimeSpan.FromSeconds(s);
        }
        else if (sinceTime.Length > 0)
        {
            if (!DateTimeOffset.TryParse(sinceTime, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)) return (null, "{\"message\": \"Unable to decode query.\"}");
            since = t;
        }
        return (new ContainerLogRequest(Flag(query, "follow"), Flag(query, "previous"), Flag(query, "timestamps"), tailLines, limitBytes, since), null);
    }

    /// <summary>
    /// The same options from typed values (Get-KubeletContainerLog), with the checks kubelet's PodLogOptions validation
    /// makes: limitBytes and the since duration at least 1 (second), and at most one of since and sinceTime.
    /// </summary>
    /// <exception cref="ArgumentException">An option out of range, or both since and sinceTime; the message names the option.</exception>
    public static ContainerLogRequest Create(bool follow, bool previous, bool timestamps, int? tailLines, long? limitBytes, TimeSpan? since,
        DateTimeOffset? sinceTime, DateTimeOffset now)
    {
        if (tailLines < 0) throw new ArgumentException($"tailLines must be 0 or more, not {tailLines}.", nameof(tailLines));
        if (limitBytes < 1) throw new ArgumentException($"limitBytes must be at least 1, not {limitBytes}.", nameof(limitBytes));
        if (since is not null && sinceTime is not null) throw new ArgumentException("at most one of sinceSeconds or sinceTime may be specified.", nameof(since));
        // kubectl --since: a duration of at least one second, sent as sinceSeconds rounded up.
        if (since is { } d && d < TimeSpan.FromSeconds(1)) throw new ArgumentException($"sinceSeconds must be at least 1 second, not {d}.", nameof(since));
        var from = since is { } duration ? now - TimeSpan.FromSeconds(Math.Ceiling(duration.TotalSeconds)) : sinceTime;
        return new ContainerLogRequest(follow, previous, timestamps, tailLines, limitBytes, from);
    }
}

/// <summary>
/// The bytes kubelet writes for one log request: each entry as "[RFC3339Nano timestamp ]message\n", cut at limitBytes
/// (a line may end midway, as kubelet's LimitWriter cuts). One instance per request; the kubelet server's
/// /containerLogs and Get-KubeletContainerLog both write through it.
/// </summary>
public sealed class ContainerLogOutput(ContainerLogRequest request)
{
    private long _written;

    /// <summary>True once limitBytes bytes have been written: the stream ends.</summary>
    public bool Done => request.LimitBytes is { } limit && _written >= limit;

    /// <summary>The entry as written to the client, cut at what remains of limitBytes; empty once <see cref="Done"/>.</summary>
    public ReadOnlyMemory<byte> Next(ContainerLogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (Done) return ReadOnlyMemory<byte>.Empty;
        // A piece of a longer line goes out without a newline, as kubelet writes a P line's content.
        var end = entry.Partial ? "" : "\n";
        var text = request.Timestamps ? $"{ContainerLogsEndpoint.FormatTimestamp(entry.Timestamp)} {entry.Message}{end}" : entry.Message + end;
        var bytes = Encoding.UTF8.GetBytes(text);
        var count = request.LimitBytes is { } limit && _written + bytes.Length > limit ? (int)(limit - _written) : bytes.Length;
        _written += count;
        return bytes.AsMemory(0, count);
    }
}

/// <summary>
/// /containerLogs/{namespace}/{pod}/{container}: kubelet's getContainerLogs and GetKubeletContainerLogs. The container is
/// chosen from the pod's status as kubelet's validateContainerLogStatus does (with its messages), its CRI log file read
/// with <see cref="ContainerLogReader"/>; follow streams until the client goes, the container ends or nothing was sent
/// for streamingConnectionIdleTimeout. The file is read on its own task into a small bounded queue, and the response
/// flushed whenever the queue runs dry: a slow client slows only its own reader.
/// </summary>
internal static class ContainerLogsEndpoint
{
    public static async Task HandleAsync(KubeletRequest request)
    {
        var http = request.Http;
        var ct = request.Aborted;
        var parts = request.Remainder.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 2)
        {
            await KubeletResponses.WriteTextAsync(http, 400, "{\"message\": \"Missing podID.\"}", ct).ConfigureAwait(false);
            return;
        }
        if (parts.Length < 3)
        {
            await KubeletResponses.WriteTextAsync(http, 400, "{\"message\": \"Missing container name.\"}", ct).ConfigureAwait(false);
            return;
        }
        var (ns, podName, containerName) = (parts[0], parts[1], parts[2]);
        var (options, error) = ContainerLogRequest.Parse(http.Request.Query, request.Server.Time.GetUtcNow());
        if (options is null)
        {
            await KubeletResponses.WriteTextAsync(http, error!.Contains("Invalid", StringComparison.Ordinal) ? 422 : 400, error, ct).ConfigureAwait(false);
            return;
        }
        var pod = request.Server.Pods().FirstOrDefault(p => p.Namespace() == ns && p.Name() == podName);
        if (pod is null)
        {
            await KubeletResponses.WriteTextAsync(http, 404, $"pod \"{podName}\" does not exist", ct).ConfigureAwait(false);
            return;
        }
        var specs = (pod.Spec.Containers ?? []).Select(c => c.Name).Concat((pod.Spec.InitContainers ?? []).Select(c => c.Name))
            .Concat((pod.Spec.EphemeralContainers ?? []).Select(c => c.Name));
        if (!specs.Contains(containerName))
        {
            await KubeletResponses.WriteTextAsync(http, 404, $"container \"{containerName}\" not found in pod \"{podName}\"", ct).ConfigureAwait(false);
            return;
        }
        var (containerId, problem) = ContainerIdFor(pod, containerName, options.Previous);
        var runtime = request.Server.Runtime;
        if (problem is not null || runtime is null)
        {
            await KubeletResponses.WriteTextAsync(http, 400, problem ?? "no container runtime", ct).ConfigureAwait(false);
            return;
        }
        ContainerStatusInfo status;
        try
        {
            status = await runtime.ContainerStatusAsync(containerId!, ct).ConfigureAwait(false);
        }
        catch (KubeletRuntimeException e)
        {
            await KubeletResponses.WriteTextAsync(http, 400, $"failed to get container status {containerId}: {e.Message}", ct).ConfigureAwait(false);
            return;
        }
        var follow = options.Follow && !options.Previous && status.State == ContainerState.Running;
        http.Response.StatusCode = 200;
        http.Response.ContentType = "text/plain";
        await http.Response.StartAsync(ct).ConfigureAwait(false);
        await StreamAsync(request, status.LogPath, containerId!, options, follow, ct).ConfigureAwait(false);
    }

    /// <summary>kubelet's validateContainerLogStatus: which container's log, or the error kubelet gives.</summary>
    internal static (string? ContainerId, string? Problem) ContainerIdFor(V1Pod pod, string name, bool previous)
    {
        var podName = pod.Name();
        var status = (pod.Status?.ContainerStatuses ?? []).Concat(pod.Status?.InitContainerStatuses ?? []).Concat(pod.Status?.EphemeralContainerStatuses ?? [])
            .FirstOrDefault(s => s.Name == name);
        if (status is null) return (null, $"container \"{name}\" in pod \"{podName}\" is not available");
        var last = status.LastState?.Terminated;
        var state = status.State;
        string? id;
        if (previous)
        {
            if (last is null || string.IsNullOrEmpty(last.ContainerID)) return (null, $"previous terminated container \"{name}\" in pod \"{podName}\" not found");
            id = last.ContainerID;
        }
        else if (state?.Running is not null) id = status.ContainerID;
        else if (state?.Terminated is { } terminated)
        {
            id = !string.IsNullOrEmpty(terminated.ContainerID) ? terminated.ContainerID
                : last is { ContainerID: { Length: > 0 } lastId } ? lastId
                : null;
            if (id is null) return (null, $"container \"{name}\" in pod \"{podName}\" is terminated");
        }
        else if (last is not null)
        {
            if (string.IsNullOrEmpty(last.ContainerID)) return (null, $"container \"{name}\" in pod \"{podName}\" is terminated");
            id = last.ContainerID;
        }
        else if (state?.Waiting is { } waiting)
        {
            return (null, waiting.Reason switch
            {
                "ErrImagePull" => $"container \"{name}\" in pod \"{podName}\" is waiting to start: image can't be pulled",
                "ImagePullBackOff" => $"container \"{name}\" in pod \"{podName}\" is waiting to start: trying and failing to pull image",
                var reason => $"container \"{name}\" in pod \"{podName}\" is waiting to start: {reason}",
            });
        }
        else return (null, $"container \"{name}\" in pod \"{podName}\" is waiting to start - no logs yet");
        // containerd://ID → ID
        var separator = id!.IndexOf("://", StringComparison.Ordinal);
        return (separator >= 0 ? id[(separator + 3)..] : id, null);
    }

    private static async Task StreamAsync(KubeletRequest request, string logPath, string containerId, ContainerLogRequest options, bool follow, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var queue = Channel.CreateBounded<ContainerLogEntry>(new BoundedChannelOptions(1024) { SingleReader = true, SingleWriter = true });
        var log = request.Server.Log;
        var readOptions = new ContainerLogReadOptions
        {
            Tail = options.TailLines, Follow = follow, Since = options.Since,
            OnUnreadableFile = (file, reason) => log.Warning($"kubelet server: skipped the rotated log file {file}: {reason}"),
        };
        var reader = Task.Run(async () =>
        {
            try
            {
                await foreach (var entry in ContainerLogReader.ReadAsync(logPath, readOptions, stop.Token).ConfigureAwait(false))
                    await queue.Writer.WriteAsync(entry, stop.Token).ConfigureAwait(false);
                queue.Writer.TryComplete();
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { queue.Writer.TryComplete(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { queue.Writer.TryComplete(e); }
        }, CancellationToken.None);
        var watcher = follow ? WatchContainerAsync(request.Server.Runtime!, containerId, stop) : Task.CompletedTask;
        var body = request.Http.Response.Body;
        var output = new ContainerLogOutput(options);
        var idle = request.Server.Options.StreamingConnectionIdleTimeout;
        try
        {
            while (true)
            {
                if (!queue.Reader.TryRead(out var entry))
                {
                    // Caught up: what is written reaches the client now (kubectl logs -f shows each line as it comes).
                    await body.FlushAsync(ct).ConfigureAwait(false);
                    using var idleTimer = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    if (follow) idleTimer.CancelAfter(idle);
                    bool more;
                    try { more = await queue.Reader.WaitToReadAsync(idleTimer.Token).ConfigureAwait(false); }
                    catch (OperationCanceledException) when (!ct.IsCancellationRequested) { break; } // streamingConnectionIdleTimeout
                    if (!more) break;
                    continue;
                }
                await body.WriteAsync(output.Next(entry), ct).ConfigureAwait(false);
                if (output.Done) break;
            }
            await body.FlushAsync(ct).ConfigureAwait(false);
        }
        catch (ChannelClosedException e) when (e.InnerException is { } inner)
        {
            request.Server.Log.Warning($"kubelet server: reading {logPath}: {inner.Message}");
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await reader.ConfigureAwait(false);
            await watcher.ConfigureAwait(false);
        }
    }

    /// <summary>As kubelet's log reader: a followed container that is no longer running ends the stream (after the last lines are read).</summary>
    private static async Task WatchContainerAsync(IRuntimeService runtime, string containerId, CancellationTokenSource stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stop.Token).ConfigureAwait(false);
                ContainerState state;
                try { state = (await runtime.ContainerStatusAsync(containerId, stop.Token).ConfigureAwait(false)).State; }
                catch (KubeletRuntimeException) { state = ContainerState.Exited; }
                if (state == ContainerState.Running) continue;
                // The reader polls the file every 200 ms: give it time to read what the container wrote last.
                await Task.Delay(TimeSpan.FromSeconds(1), stop.Token).ConfigureAwait(false);
                await stop.CancelAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped.</summary>
    internal static string FormatTimestamp(DateTimeOffset timestamp) =>
        timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
}
