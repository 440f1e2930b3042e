using KubeletPS.Core;
using KubeletPS.Core.Certificates;

namespace KubeletPS.Commands;

/// <summary>The ErrorId suffix for each way a certificate, key, CA or kubeconfig input can be unusable.</summary>
internal static class CertificateErrorIds
{
    internal static string For(Exception exception) => exception switch
    {
        CertificateException c => c.Problem switch
        {
            CertificateProblem.FileNotFound => ErrorIds.PathNotFound,
            CertificateProblem.NoCertificate => ErrorIds.NoCertificate,
            CertificateProblem.CertificateUnreadable => ErrorIds.CertificateUnreadable,
            CertificateProblem.KeyUnreadable => ErrorIds.KeyUnreadable,
            CertificateProblem.KeyEncrypted => ErrorIds.KeyEncrypted,
            _ => ErrorIds.FileUnreadable,
        },
        KubeletConfigException => ErrorIds.KubeconfigInvalid,
        _ => ErrorIds.FileUnreadable,
    };

    /// <summary>Engine failures a certificate cmdlet reports as an ErrorRecord rather than a crash.</summary>
    internal static bool IsInputProblem(Exception exception) => exception is KubeletException or IOException;

    internal static object TargetOf(Exception exception, string fallback) =>
        (exception as KubeletException)?.Target ?? fallback;
}
