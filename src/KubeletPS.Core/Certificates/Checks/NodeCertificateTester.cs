namespace KubeletPS.Core.Certificates.Checks;

/// <summary>What to check and against what. With no <see cref="Certificate"/>, everything comes from the kubeconfig.</summary>
public sealed record CertificateTestOptions
{
    public PemSource? Certificate { get; init; }
    public PemSource? Key { get; init; }
    /// <summary>The cluster CA bundle; when null, the kubeconfig's certificate-authority(-data).</summary>
    public PemSource? CertificateAuthority { get; init; }
    /// <summary>Where the certificate (when none is given) and the CA (when none is given) come from; null: nowhere.</summary>
    public string? KubeconfigPath { get; init; }
    public string? NodeName { get; init; }
    public DateTimeOffset At { get; init; } = DateTimeOffset.UtcNow;
    public int MinimumDaysRemaining { get; init; } = 30;
}

/// <summary>The checks of one certificate, in order; it passes when every check does.</summary>
public sealed record CertificateTestReport(string CertificateSource, string? KeySource, string? CertificateAuthoritySource, IReadOnlyList<CertificateCheckResult> Checks)
{
    public bool Passed => Checks.All(c => c.Passed);
}

/// <summary>
/// Test-KubeletCertificate's engine: loads the certificate, key and CA the way the kubelet
/// finds them, then runs every check. Unusable input (missing file, no certificate, a key that
/// does not parse or is encrypted) throws <see cref="CertificateException"/>; a certificate that
/// is merely wrong yields failed checks.
/// </summary>
public static class NodeCertificateTester
{
    public static async Task<CertificateTestReport> TestAsync(CertificateTestOptions options, IKubeletLog? log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        log ??= NullKubeletLog.Instance;
        var certificate = options.Certificate;
        var key = options.Key;
        var authority = options.CertificateAuthority;

        if (certificate is null || authority is null)
        {
            if (options.KubeconfigPath is not null)
            {
                var fromKubeconfig = await KubeconfigCredentialSource.ReadAsync(options.KubeconfigPath,
                    requireClientCertificate: certificate is null, cancellationToken).ConfigureAwait(false);
                if (certificate is null)
                {
                    certificate = fromKubeconfig.Certificate!;
                    key ??= fromKubeconfig.Key;
                    log.Info($"Client certificate from {options.KubeconfigPath}: {certificate.Label}; key: {key?.Label ?? "(same file)"}.");
                }
                if (authority is null)
                {
                    authority = fromKubeconfig.CertificateAuthority;
                    log.Info(authority is null
                        ? $"{options.KubeconfigPath} names no certificate-authority for its cluster."
                        : $"Cluster CA from {options.KubeconfigPath}: {authority.Label}.");
                }
            }
            if (certificate is null)
            {
                throw new ArgumentException("Neither a certificate nor a kubeconfig to find one in was given.", nameof(options));
            }
        }

        var link = CertificateRotationChecks.CurrentLinkUpToDate(certificate.Path);
        if (CertificateRotationChecks.IsDangling(certificate.Path))
        {
            // A dangling -current.pem link: nothing to load, and that is the finding.
            log.Info($"{certificate.Label}: {link.Name} failed: {link.Message}");
            return new CertificateTestReport(certificate.Label, key?.Label, authority?.Label, [link]);
        }
        var credentials = await NodeCredentials.LoadAsync(certificate, key, cancellationToken).ConfigureAwait(false);
        var authorities = authority is null
            ? null
            : await NodeCredentials.LoadCertificateAuthoritiesAsync(authority, cancellationToken).ConfigureAwait(false);
        var leaf = credentials.Leaf;
        var at = options.At.ToUniversalTime();
        var checks = new List<CertificateCheckResult>
        {
            CertificateChecks.KeyMatchesCertificate(credentials),
            CertificateChecks.ValidAt(leaf, at),
            CertificateChecks.ChainsToCA(credentials, authorities, authority?.Label, at),
            CertificateChecks.ClientAuth(leaf),
            CertificateChecks.NodeIdentity(leaf, options.NodeName),
            CertificateChecks.NotExpiringWithin(leaf, at, options.MinimumDaysRemaining),
            CertificateRotationChecks.RotationNotOverdue(new DateTimeOffset(leaf.NotBefore.ToUniversalTime()), new DateTimeOffset(leaf.NotAfter.ToUniversalTime()), at),
            link,
            CertificateRotationChecks.KeyFilePrivate(key?.Path ?? (credentials.KeySource is not null ? certificate.Path : null)),
        };
        foreach (var failed in checks.Where(c => !c.Passed))
        {
            log.Info($"{certificate.Label}: {failed.Name} failed: {failed.Message}");
        }
        return new CertificateTestReport(certificate.Label, credentials.KeySource, authority?.Label, checks);
    }
}
