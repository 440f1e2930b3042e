namespace KubeletPS.Core.Certificates.Bootstrap;

/// <summary>Why TLS bootstrap did not produce a client certificate; the cmdlets turn it into a stable ErrorId.</summary>
public enum CertificateBootstrapProblem
{
    /// <summary>The CSR got a Denied condition (kubectl certificate deny).</summary>
    Denied,
    /// <summary>The signer gave the CSR a Failed condition.</summary>
    Failed,
    /// <summary>No certificate was issued within the wait (kubelet: 3600 s).</summary>
    TimedOut,
    /// <summary>The API server refused the bootstrap credentials (an expired or deleted token, a bad certificate).</summary>
    Unauthorized,
    /// <summary>The bootstrap credentials may not create CSRs.</summary>
    Forbidden,
    /// <summary>The CSR was deleted, replaced, or already exists for another key.</summary>
    RequestLost,
    /// <summary>The issued certificate is not for this key or node.</summary>
    InvalidCertificate,
}

/// <summary>
/// TLS bootstrap failed. The message names the CSR (and the Denied/Failed condition's reason and message) or the
/// bootstrap kubeconfig and token id; never a token secret or key material.
/// </summary>
public sealed class CertificateBootstrapException(CertificateBootstrapProblem problem, string message, string? csrName, string? target,
    string? reason = null, string? conditionMessage = null, Exception? inner = null)
    : KubeletException(message, KindOf(problem), target ?? csrName, inner)
{
    public CertificateBootstrapProblem Problem { get; } = problem;

    /// <summary>The CertificateSigningRequest's name, when one was created.</summary>
    public string? CsrName { get; } = csrName;

    /// <summary>The Denied or Failed condition's reason.</summary>
    public string? Reason { get; } = reason;

    public string? ConditionMessage { get; } = conditionMessage;

    private static KubeletErrorKind KindOf(CertificateBootstrapProblem problem) => problem switch
    {
        CertificateBootstrapProblem.Denied or CertificateBootstrapProblem.Forbidden => KubeletErrorKind.PermissionDenied,
        CertificateBootstrapProblem.Unauthorized => KubeletErrorKind.Authentication,
        CertificateBootstrapProblem.TimedOut => KubeletErrorKind.Timeout,
        CertificateBootstrapProblem.InvalidCertificate => KubeletErrorKind.Security,
        _ => KubeletErrorKind.InvalidData,
    };
}
