namespace KubeletPS;

/// <summary>
/// The stable ErrorIds of every ErrorRecord the module writes: "&lt;Cmdlet&gt;&lt;Problem&gt;".
/// Scripts match on these (FullyQualifiedErrorId starts with them), so never rename one.
/// </summary>
internal static class ErrorIds
{
    // Shared by every cmdlet that reads files.
    internal const string PathNotFound = nameof(PathNotFound);
    internal const string PathNotFileSystem = nameof(PathNotFileSystem);

    // Certificate inputs (Get-KubeletCertificate, Test-KubeletCertificate). A missing file,
    // named by a parameter or by the kubeconfig, is PathNotFound like any other.
    internal const string NoCertificate = nameof(NoCertificate);
    internal const string CertificateUnreadable = nameof(CertificateUnreadable);
    internal const string KeyUnreadable = nameof(KeyUnreadable);
    internal const string KeyEncrypted = nameof(KeyEncrypted);
    internal const string FileUnreadable = nameof(FileUnreadable);
    internal const string KubeconfigInvalid = nameof(KubeconfigInvalid);
}
