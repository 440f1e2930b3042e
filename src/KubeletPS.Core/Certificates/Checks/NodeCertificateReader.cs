namespace KubeletPS.Core.Certificates.Checks;

/// <summary>Reads a node's client certificate (and finds its key) for display: Get-KubeletCertificate.</summary>
public static class NodeCertificateReader
{
    /// <summary>Where kubeadm puts the kubelet's kubeconfig.</summary>
    public const string DefaultKubeconfigPath = KubeconfigCredentialSource.DefaultKubeconfigPath;

    /// <summary>
    /// One <see cref="CertificateInfo"/> per certificate in <paramref name="certificate"/> (leaf first).
    /// The key is looked for in <paramref name="key"/>, or in the certificate's own file.
    /// </summary>
    public static async Task<IReadOnlyList<CertificateInfo>> ReadAsync(PemSource certificate, PemSource? key, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var credentials = await NodeCredentials.LoadAsync(certificate, key, cancellationToken).ConfigureAwait(false);
        return Describe(credentials, at);
    }

    /// <summary>The client certificate the kubeconfig's current context authenticates with.</summary>
    public static async Task<IReadOnlyList<CertificateInfo>> ReadFromKubeconfigAsync(string kubeconfigPath, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var sources = await KubeconfigCredentialSource.ReadAsync(kubeconfigPath, requireClientCertificate: true, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(sources.Certificate!, sources.Key, at, cancellationToken).ConfigureAwait(false);
    }

    internal static IReadOnlyList<CertificateInfo> Describe(NodeCredentials credentials, DateTimeOffset at) =>
        credentials.Certificates
            .Select((c, i) => CertificateInfo.From(c, credentials.CertificateSource, i, at, i == 0 ? credentials.KeySource : null))
            .ToList();
}
