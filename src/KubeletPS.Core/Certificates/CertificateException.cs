namespace KubeletPS.Core.Certificates;

/// <summary>What is wrong with a certificate or key input; the cmdlets turn it into a stable ErrorId.</summary>
public enum CertificateProblem
{
    /// <summary>A certificate, key or CA file that does not exist.</summary>
    FileNotFound,
    /// <summary>A file that holds no CERTIFICATE block where a certificate was expected.</summary>
    NoCertificate,
    /// <summary>A CERTIFICATE block that is not valid base64 or not a DER X.509 certificate.</summary>
    CertificateUnreadable,
    /// <summary>A private key block that does not parse, or a file with more than one key.</summary>
    KeyUnreadable,
    /// <summary>An encrypted private key: the kubelet has no passphrase to open it.</summary>
    KeyEncrypted,
    /// <summary>A file the process may not read.</summary>
    FileUnreadable,
}

/// <summary>
/// A certificate, key or CA input the engine cannot use. The message names the source (a path
/// or "embedded in &lt;kubeconfig&gt;", also in <see cref="KubeletException.Target"/>) and the
/// PEM block at fault, never the key material.
/// </summary>
public sealed class CertificateException(CertificateProblem problem, string source, string message, Exception? inner = null)
    : KubeletException($"{source}: {message}", KindOf(problem), source, inner)
{
    public CertificateProblem Problem { get; } = problem;

    private static KubeletErrorKind KindOf(CertificateProblem problem) => problem switch
    {
        CertificateProblem.FileNotFound => KubeletErrorKind.NotFound,
        CertificateProblem.KeyEncrypted => KubeletErrorKind.Security,
        CertificateProblem.FileUnreadable => KubeletErrorKind.PermissionDenied,
        _ => KubeletErrorKind.InvalidData,
    };
}
