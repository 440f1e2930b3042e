namespace KubeletPS.TestCluster.Server;

/// <summary>One API request as the audit log would record it.</summary>
public sealed record ApiRequest(DateTimeOffset Time, string User, string Verb, string Resource, string Namespace, string Name, string Path, int StatusCode)
{
    /// <summary>The serial number (hex, as X509Certificate2.SerialNumber) of the client certificate the connection presented, if any.</summary>
    public string? ClientCertificateSerial { get; init; }
}

/// <summary>Every request the server answered, for assertions and for benchmarks that report API requests per minute.</summary>
public sealed class RequestLog
{
    private readonly Lock _lock = new();
    private readonly List<ApiRequest> _entries = [];

    public IReadOnlyList<ApiRequest> Entries
    {
        get { lock (_lock) return _entries.ToList(); }
    }

    /// <summary>Requests matching a verb ("get", "list", "watch", "create", "update", "patch", "delete") and/or resource ("pods", "nodes/status").</summary>
    public int Count(string? verb = null, string? resource = null)
    {
        lock (_lock) return _entries.Count(e => (verb is null || e.Verb == verb) && (resource is null || e.Resource == resource));
    }

    /// <summary>Counts per "verb resource", e.g. "patch nodes/status" → 12.</summary>
    public IReadOnlyDictionary<string, int> CountsByVerbAndResource()
    {
        lock (_lock) return _entries.GroupBy(e => $"{e.Verb} {e.Resource}").ToDictionary(g => g.Key, g => g.Count());
    }

    public double RequestsPerMinute(TimeSpan window, DateTimeOffset now)
    {
        lock (_lock) return _entries.Count(e => e.Time >= now - window) / window.TotalMinutes;
    }

    public void Clear()
    {
        lock (_lock) _entries.Clear();
    }

    internal void Add(ApiRequest request)
    {
        lock (_lock) _entries.Add(request);
    }
}
