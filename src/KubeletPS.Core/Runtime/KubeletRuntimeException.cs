namespace KubeletPS.Core.Runtime;

/// <summary>What went wrong talking to the container runtime, so callers can react without parsing messages.</summary>
public enum RuntimeErrorKind
{
    /// <summary>The runtime's socket file does not exist (runtime not started or wrong endpoint).</summary>
    EndpointMissing,
    /// <summary>The socket exists but nothing accepted the connection.</summary>
    ConnectionFailed,
    /// <summary>The runtime answered but reports RuntimeReady=false.</summary>
    RuntimeNotReady,
    /// <summary>The object (sandbox, container, image) does not exist.</summary>
    NotFound,
    /// <summary>The per-call deadline (runtimeRequestTimeout) passed.</summary>
    Timeout,
    /// <summary>The runtime does not implement the call.</summary>
    Unimplemented,
    /// <summary>Any other error returned by the runtime.</summary>
    RuntimeError,
}

/// <summary>
/// A failed call to a CRI runtime. The message always names the endpoint and the operation,
/// because on a node with several runtimes (or a restarted one) that is the first question asked.
/// </summary>
public sealed class KubeletRuntimeException(string endpoint, string operation, RuntimeErrorKind kind, string message, string? rpcStatus = null, Exception? innerException = null)
    : KubeletException(message, CategoryOf(kind), endpoint, innerException)
{
    /// <summary>The endpoint as configured, e.g. <c>unix:///run/containerd/containerd.sock</c>.</summary>
    public string Endpoint { get; } = endpoint;

    /// <summary>The CRI call that failed, e.g. <c>RunPodSandbox</c>.</summary>
    public string Operation { get; } = operation;

    public RuntimeErrorKind Kind { get; } = kind;

    /// <summary>The gRPC status name (e.g. <c>NotFound</c>) when the runtime answered with one.</summary>
    public string? RpcStatus { get; } = rpcStatus;

    private static KubeletErrorKind CategoryOf(RuntimeErrorKind kind) => kind switch
    {
        RuntimeErrorKind.EndpointMissing or RuntimeErrorKind.ConnectionFailed => KubeletErrorKind.Connection,
        RuntimeErrorKind.RuntimeNotReady => KubeletErrorKind.NotReady,
        RuntimeErrorKind.NotFound => KubeletErrorKind.NotFound,
        RuntimeErrorKind.Timeout => KubeletErrorKind.Timeout,
        _ => KubeletErrorKind.Unspecified,
    };
}
