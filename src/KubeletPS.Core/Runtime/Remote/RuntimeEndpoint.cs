namespace KubeletPS.Core.Runtime.Remote;

/// <summary>Parses a container runtime endpoint the way the kubelet accepts it.</summary>
public static class RuntimeEndpoint
{
    /// <summary>
    /// Returns the unix socket path for <c>unix:///path</c> or a bare absolute path.
    /// Other schemes (tcp, npipe) are not supported by this agent.
    /// </summary>
    public static string ToSocketPath(string endpoint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoint);
        const string scheme = "unix://";
        if (endpoint.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            var path = endpoint[scheme.Length..];
            if (!path.StartsWith('/'))
            {
                throw new ArgumentException($"container runtime endpoint {endpoint}: expected unix:///absolute/path", nameof(endpoint));
            }

            return path;
        }

        if (endpoint.StartsWith('/'))
        {
            return endpoint;
        }

        throw new ArgumentException($"container runtime endpoint {endpoint}: only unix sockets (unix:///path or /path) are supported", nameof(endpoint));
    }

    /// <summary>Normalizes to the <c>unix:///path</c> form used in messages.</summary>
    public static string Normalize(string endpoint) => "unix://" + ToSocketPath(endpoint);
}
