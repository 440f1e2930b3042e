using System.Net;
using KubeletPS.Core.Api;
using KubeletPS.Core.Certificates.Bootstrap;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Configuration.Clientcmd;

namespace KubeletPS.Core.Certificates.Rotation;

/// <summary>What Update-KubeletCertificate asks: which certificate, the node's files, and the bootstrap kubeconfig for an expired client certificate.</summary>
public sealed record KubeletCertificateRenewalOptions
{
    public string KubeconfigPath { get; init; } = KubeletConfigLoader.DefaultKubeconfigPath;
    public string CertificateDirectory { get; init; } = KubeletConfigurationDefaults.DefaultCertificateDirectory;
    public required string NodeName { get; init; }
    public KubeletCertificateKind Kind { get; init; } = KubeletCertificateKind.Client;
    /// <summary>Used when the current client certificate has expired or cannot be used.</summary>
    public string? BootstrapKubeconfigPath { get; init; }
    /// <summary>Host names and addresses for a serving certificate; default the node name and the node's address.</summary>
    public IReadOnlyList<string> DnsNames { get; init; } = [];
    public IReadOnlyList<IPAddress> IpAddresses { get; init; } = [];
    public TimeSpan WaitTimeout { get; init; } = TimeSpan.FromMinutes(15);
}

/// <summary>
/// Rotation now, outside the agent (after a CA change, or to renew an expired certificate): the same CSR, key and
/// file handling as the running agent's <see cref="KubeletCertificateManager"/>, with kubelet.conf's credentials; an
/// unusable or expired client certificate is renewed through the bootstrap kubeconfig when one is given.
/// </summary>
public static class KubeletCertificateRenewal
{
    public static async Task<KubeletCertificateRotation> RenewAsync(KubeletCertificateRenewalOptions options, IKubeletLog log,
        Action<CertificateBootstrapProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var kubeconfigPath = Path.GetFullPath(options.KubeconfigPath);
        var why = await new NodeCertificateBootstrap().WhyBootstrapIsNeededAsync(kubeconfigPath, cancellationToken).ConfigureAwait(false);
        if (why is not null && options.Kind == KubeletCertificateKind.Client)
        {
            if (options.BootstrapKubeconfigPath is null)
                throw new KubeletException($"The node's client credentials cannot be used to request a new certificate: {why}. " +
                    $"Renew it through TLS bootstrap: Update-KubeletCertificate -BootstrapKubeconfigPath /etc/kubernetes/bootstrap-kubelet.conf, or join again with Join-KubeletCluster.",
                    KubeletErrorKind.Authentication, kubeconfigPath);
            var result = await new NodeCertificateBootstrap().BootstrapAsync(new CertificateBootstrapOptions
            {
                KubeconfigPath = kubeconfigPath, BootstrapKubeconfigPath = options.BootstrapKubeconfigPath, CertificateDirectory = options.CertificateDirectory,
                NodeName = options.NodeName, Force = true, WaitTimeout = options.WaitTimeout,
            }, progress, cancellationToken).ConfigureAwait(false);
            var pem = await File.ReadAllTextAsync(result.CertificatePath!, cancellationToken).ConfigureAwait(false);
            using var issued = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(pem);
            return new KubeletCertificateRotation(KubeletCertificateKind.Client, result.CsrName!, result.CertificateFile!, result.CertificatePath!,
                issued.Subject, issued.SerialNumber, issued.NotBefore.ToUniversalTime(), issued.NotAfter.ToUniversalTime());
        }
        if (why is not null)
            throw new KubeletException($"The node's client credentials cannot be used to request a serving certificate: {why}. Renew the client certificate first.",
                KubeletErrorKind.Authentication, kubeconfigPath);

        var kubeconfig = await KubeconfigLoader.LoadAsync(kubeconfigPath, null, null, cancellationToken).ConfigureAwait(false);
        using var current = new RotatingCertificate(ApiRequester.LoadClientCertificate(kubeconfig)!);
        using var client = ApiClientFactory.CreateClient(kubeconfig, current);
        var identity = new ApiIdentity(kubeconfig.Server, NodeClientCertificateRequest.CommonName(options.NodeName));
        var template = options.Kind == KubeletCertificateKind.Client
            ? KubeletCertificateTemplate.Client(options.NodeName)
            : KubeletCertificateTemplate.Serving(options.NodeName, options.DnsNames.Count > 0 ? options.DnsNames : [options.NodeName], options.IpAddresses);
        var manager = new KubeletCertificateManager(template, options.CertificateDirectory, options.Kind == KubeletCertificateKind.Client ? current : null,
            client, identity, log) { BootstrapKubeconfigPath = options.BootstrapKubeconfigPath, WaitTimeout = options.WaitTimeout };
        try
        {
            return await manager.RotateAsync(progress, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (options.Kind == KubeletCertificateKind.Serving) manager.Current?.Dispose();
        }
    }
}
