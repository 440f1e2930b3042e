using KubeletPS.Core.Configuration;
using KubeletPS.Core.Configuration.Clientcmd;

namespace KubeletPS.Core.Certificates;

/// <summary>
/// The client certificate, key and cluster CA a kubeconfig names, as the kubelet finds them:
/// read with the shared kubeconfig reader (current-context, relative paths resolved against the
/// kubeconfig's folder, embedded data), turned into PEM sources with labels for messages.
/// </summary>
internal static class KubeconfigCredentialSource
{
    public const string DefaultKubeconfigPath = KubeletConfigLoader.DefaultKubeconfigPath;

    /// <param name="requireClientCertificate">
    /// False when only the cluster CA is wanted: a user without a client certificate (token,
    /// exec plugin) is then no error.
    /// </param>
    public static async Task<CertificateSources> ReadAsync(string kubeconfigPath, bool requireClientCertificate, CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(kubeconfigPath);
        Kubeconfig kubeconfig;
        try
        {
            kubeconfig = await KubeconfigLoader.LoadAsync(path, null, null, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeletConfigException e) when (e.Category == KubeletErrorKind.NotFound && !File.Exists(path))
        {
            throw new CertificateException(CertificateProblem.FileNotFound, path, "the kubeconfig does not exist.", e);
        }
        catch (KubeletConfigException e) when (e.Category == KubeletErrorKind.PermissionDenied)
        {
            throw new CertificateException(CertificateProblem.FileUnreadable, path, "permission denied reading the kubeconfig.", e);
        }

        var certificate = Source(kubeconfig.ClientCertificateData, kubeconfig.ClientCertificateFile, "client-certificate", path);
        if (certificate is null && requireClientCertificate)
        {
            throw new KubeletConfigException(
                $"user '{kubeconfig.UserName}' has neither client-certificate nor client-certificate-data: it does not authenticate with a certificate.",
                path, field: $"users[{kubeconfig.UserName}].user.client-certificate");
        }
        var key = Source(kubeconfig.ClientKeyData, kubeconfig.ClientKeyFile, "client-key", path);
        var authority = Source(kubeconfig.CertificateAuthorityData, kubeconfig.CertificateAuthorityFile, "certificate-authority", path);
        return new CertificateSources(certificate, key, authority);
    }

    private static PemSource? Source(byte[]? data, string? file, string field, string kubeconfig) =>
        data is not null ? PemSource.FromData(data, $"{field}-data embedded in {kubeconfig}")
        : file is not null ? PemSource.FromFile(file)
        : null;
}
