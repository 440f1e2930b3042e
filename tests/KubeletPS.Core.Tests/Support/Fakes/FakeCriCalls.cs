using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.Core.Tests.Support.Fakes;

/// <summary>
/// What the fake runtime and image services share, as in cri-api's fake_runtime_service.go: the
/// log of the operations called in order (<see cref="Called"/>), per-operation counters, errors to
/// inject (for the next call or for every call) and delays. One instance may back both fakes so
/// the call log shows runtime and image calls in the order they were made.
/// </summary>
public sealed class FakeCriCalls
{
    private readonly object _lock = new();
    private readonly List<string> _called = [];
    private readonly Dictionary<string, Queue<Exception>> _next = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Exception> _always = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TimeSpan> _delays = new(StringComparer.Ordinal);

    public const string Endpoint = "unix:///fake/cri.sock";

    /// <summary>The same counters <see cref="CriRuntimeClient"/> keeps (calls, errors, most in flight).</summary>
    public RuntimeOperationStats Operations { get; } = new();

    /// <summary>Every call so far by CRI operation name (RunPodSandbox, CreateContainer…), in order.</summary>
    public IReadOnlyList<string> Called
    {
        get { lock (_lock) return [.. _called]; }
    }

    public int Count(string operation)
    {
        lock (_lock) return _called.Count(c => c == operation);
    }

    public void Clear()
    {
        lock (_lock) _called.Clear();
    }

    /// <summary>The next call of <paramref name="operation"/> throws <paramref name="error"/> (queued: several calls fail in turn).</summary>
    public void InjectError(string operation, Exception error)
    {
        lock (_lock)
        {
            if (!_next.TryGetValue(operation, out var queue)) _next[operation] = queue = new Queue<Exception>();
            queue.Enqueue(error);
        }
    }

    /// <summary>Every call of <paramref name="operation"/> throws <paramref name="error"/> until <see cref="ClearErrors"/>.</summary>
    public void InjectErrorAlways(string operation, Exception error)
    {
        lock (_lock) _always[operation] = error;
    }

    public void ClearErrors()
    {
        lock (_lock)
        {
            _next.Clear();
            _always.Clear();
        }
    }

    /// <summary>Each call of <paramref name="operation"/> waits this long (cancellable) before it acts.</summary>
    public void SetDelay(string operation, TimeSpan delay)
    {
        lock (_lock) _delays[operation] = delay;
    }

    /// <summary>An error as CriRuntimeClient reports a gRPC status (NotFound, RuntimeError…).</summary>
    public static KubeletRuntimeException Error(string operation, RuntimeErrorKind kind, string detail = "injected")
        => new(Endpoint, operation, kind, $"container runtime endpoint {Endpoint}: {operation} failed: {kind}: {detail}");

    /// <summary>Records the call, waits its delay, throws an injected error, else runs <paramref name="act"/> (under the fake's lock).</summary>
    internal async Task<T> CallAsync<T>(string operation, object state, Func<T> act, CancellationToken ct)
    {
        TimeSpan delay;
        Exception? error = null;
        lock (_lock)
        {
            _called.Add(operation);
            delay = _delays.GetValueOrDefault(operation);
            if (_next.TryGetValue(operation, out var queue) && queue.Count > 0) error = queue.Dequeue();
            else if (_always.TryGetValue(operation, out var always)) error = always;
        }
        Operations.Begin(operation);
        var failed = true;
        try
        {
            if (delay > TimeSpan.Zero) await Task.Delay(delay, ct).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
            if (error is not null) throw error;
            T result;
            lock (state) result = act();
            failed = false;
            return result;
        }
        finally
        {
            Operations.Record(operation, delay, failed);
        }
    }
}
