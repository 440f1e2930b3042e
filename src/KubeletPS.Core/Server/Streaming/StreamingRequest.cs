using System.Globalization;
using KubeletPS.Core.Runtime;
using Microsoft.AspNetCore.Http;

namespace KubeletPS.Core.Server.Streaming;

/// <summary>Which kubelet streaming endpoint a path names.</summary>
public enum StreamingEndpoint
{
    Exec,
    Attach,
    PortForward,
    Run,
}

/// <summary>
/// A request to /exec, /attach, /run (<c>/{verb}/{podNamespace}/{podID}[/{uid}]/{containerName}</c>) or
/// /portForward (<c>/portForward/{podNamespace}/{podID}[/{uid}]</c>), with kubelet's query parameters.
/// </summary>
public sealed record StreamingRequest(StreamingEndpoint Endpoint, string PodNamespace, string PodName, string? PodUid, string? ContainerName)
{
    /// <summary>Parses the path; null when it is not one of the four endpoints.</summary>
    public static StreamingRequest? FromPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
        if (segments.Length < 3) return null;
        // kubelet registers /portForward; the router is case-sensitive, so is this.
        StreamingEndpoint? endpoint = segments[0] switch
        {
            "exec" => StreamingEndpoint.Exec,
            "attach" => StreamingEndpoint.Attach,
            "portForward" => StreamingEndpoint.PortForward,
            "run" => StreamingEndpoint.Run,
            _ => null,
        };
        if (endpoint is not { } e) return null;
        if (e == StreamingEndpoint.PortForward)
        {
            return segments.Length switch
            {
                3 => new(e, segments[1], segments[2], null, null),
                4 => new(e, segments[1], segments[2], segments[3], null),
                _ => null,
            };
        }

        return segments.Length switch
        {
            4 => new(e, segments[1], segments[2], null, segments[3]),
            5 => new(e, segments[1], segments[2], segments[3], segments[4]),
            _ => null,
        };
    }

    /// <summary>
    /// remotecommand NewOptions: tty, and the streams under kubelet's wire names input/output/error
    /// ("1", as kube-apiserver sends them) or stdin/stdout/stderr ("true" or "1", PodExecOptions' names).
    /// A TTY merges stderr into stdout; at least one stream is required.
    /// </summary>
    public static StreamingOptions ParseStreams(IQueryCollection query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var tty = IsSet(query, "tty");
        var stdin = IsSet(query, "input") || IsSet(query, "stdin");
        var stdout = IsSet(query, "output") || IsSet(query, "stdout");
        var stderr = (IsSet(query, "error") || IsSet(query, "stderr")) && !tty;
        if (!stdin && !stdout && !stderr)
        {
            throw new StreamingRequestException(400, "you must specify at least 1 of stdin, stdout, stderr");
        }

        return new StreamingOptions(stdin, stdout, stderr, tty);
    }

    /// <summary>
    /// portforward NewV4Options: the ports (query "port", as kube-apiserver sends them, or "ports")
    /// are required for a WebSocket request only; SPDY clients name the port per stream.
    /// </summary>
    public static IReadOnlyList<int> ParsePorts(IQueryCollection query, bool isWebSocket)
    {
        ArgumentNullException.ThrowIfNull(query);
        var values = query["port"].Concat(query["ports"]).ToList();
        if (values.Count == 0)
        {
            return isWebSocket ? throw new StreamingRequestException(400, "query parameter \"port\" is required") : [];
        }

        var ports = new List<int>();
        foreach (var value in values)
        {
            if (string.IsNullOrEmpty(value)) throw new StreamingRequestException(400, "query parameter \"port\" cannot be empty");
            foreach (var part in value.Split(','))
            {
                if (!ushort.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
                    throw new StreamingRequestException(400, $"unable to parse \"{value}\" as a port: invalid syntax");
                if (port < 1) throw new StreamingRequestException(400, $"port \"{value}\" must be > 0");
                ports.Add(port);
            }
        }

        return ports;
    }

    /// <summary>wsstream.IsWebSocketRequest: Connection contains upgrade and Upgrade is websocket.</summary>
    public static bool IsWebSocketRequest(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.Headers.Connection.Any(v => v is not null && v.Split(',').Any(t => t.Trim().Equals("upgrade", StringComparison.OrdinalIgnoreCase)))
            && request.Headers.Upgrade.Any(v => v is not null && v.Trim().Equals("websocket", StringComparison.OrdinalIgnoreCase));
    }

    private static bool IsSet(IQueryCollection query, string name) =>
        query[name].Any(v => v is "1" or "true");
}
