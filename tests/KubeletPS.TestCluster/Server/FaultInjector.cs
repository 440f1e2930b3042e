namespace KubeletPS.TestCluster.Server;

/// <summary>Failures to inject for resilience tests: refused connections, dropped watches, error responses.</summary>
public sealed class FaultInjector
{
    private readonly Lock _lock = new();
    private readonly List<InjectedFailure> _failures = [];
    private readonly TimeProvider _time;
    private readonly Action _dropWatches;
    private DateTimeOffset? _refuseUntil;

    internal FaultInjector(TimeProvider time, Action dropWatches)
    {
        _time = time;
        _dropWatches = dropWatches;
    }

    /// <summary>Answers requests with <see cref="StatusCode"/> while <see cref="Remaining"/> is above zero.</summary>
    public sealed class InjectedFailure(int count, int statusCode, string? pathContains, int? retryAfterSeconds, string? method = null)
    {
        public string? Method { get; } = method;
        public int Remaining { get; internal set; } = count;
        public int StatusCode { get; } = statusCode;
        public string? PathContains { get; } = pathContains;
        public int? RetryAfterSeconds { get; } = retryAfterSeconds;
    }

    /// <summary>
    /// Aborts every new connection (before TLS) and every request on kept-alive connections, for <paramref name="duration"/>
    /// or until <see cref="AcceptConnections"/>. Clients see connection resets, as with an apiserver that is going down.
    /// </summary>
    public void RefuseConnections(TimeSpan? duration = null)
    {
        lock (_lock) _refuseUntil = duration is { } d ? _time.GetUtcNow() + d : DateTimeOffset.MaxValue;
    }

    public void AcceptConnections()
    {
        lock (_lock) _refuseUntil = null;
    }

    public bool IsRefusingConnections
    {
        get
        {
            lock (_lock) return _refuseUntil is { } until && _time.GetUtcNow() < until;
        }
    }

    /// <summary>Ends every open watch stream abruptly (the connection is aborted, no final event).</summary>
    public void DropWatches() => _dropWatches();

    /// <summary>
    /// The next <paramref name="count"/> requests whose path contains <paramref name="pathContains"/> (all when null) fail with
    /// <paramref name="statusCode"/> and a matching Status body; 429 and 503 carry Retry-After (<paramref name="retryAfterSeconds"/>, default 1).
    /// With <paramref name="method"/> (GET, PUT, PATCH…) only requests with that HTTP method fail: a 409 storm hits writes, not reads.
    /// </summary>
    public InjectedFailure FailNext(int count, int statusCode, string? pathContains = null, int? retryAfterSeconds = null, string? method = null)
    {
        var retry = retryAfterSeconds ?? (statusCode is 429 or 503 ? 1 : null);
        var failure = new InjectedFailure(count, statusCode, pathContains, retry, method);
        lock (_lock) _failures.Add(failure);
        return failure;
    }

    /// <summary>Removes every injected fault.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _failures.Clear();
            _refuseUntil = null;
        }
    }

    internal InjectedFailure? TakeFailure(string method, string pathAndQuery)
    {
        lock (_lock)
        {
            var f = _failures.FirstOrDefault(f => f.Remaining > 0
                && (f.Method is null || string.Equals(f.Method, method, StringComparison.OrdinalIgnoreCase))
                && (f.PathContains is null || pathAndQuery.Contains(f.PathContains, StringComparison.Ordinal)));
            if (f is null) return null;
            f.Remaining--;
            if (f.Remaining == 0) _failures.Remove(f);
            return f;
        }
    }
}
