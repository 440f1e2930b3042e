using System.Globalization;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.X509;

namespace KubeletPS.Core.Certificates.Checks;

/// <summary>The outcome of one check: its name, whether it passed, and a sentence saying why.</summary>
public sealed record CertificateCheckResult(string Name, bool Passed, string Message);

/// <summary>The names of the checks, in the order they run.</summary>
public static class CertificateCheckNames
{
    public const string KeyMatchesCertificate = nameof(KeyMatchesCertificate);
    public const string ValidAt = nameof(ValidAt);
    public const string ChainsToCA = nameof(ChainsToCA);
    public const string ClientAuth = nameof(ClientAuth);
    public const string NodeIdentity = nameof(NodeIdentity);
    public const string NotExpiringWithin = nameof(NotExpiringWithin);
    public const string RotationNotOverdue = nameof(RotationNotOverdue);
    public const string CurrentLinkUpToDate = nameof(CurrentLinkUpToDate);
    public const string KeyFilePrivate = nameof(KeyFilePrivate);

    public static IReadOnlyList<string> All { get; } =
        [KeyMatchesCertificate, ValidAt, ChainsToCA, ClientAuth, NodeIdentity, NotExpiringWithin, RotationNotOverdue, CurrentLinkUpToDate, KeyFilePrivate];
}

/// <summary>
/// The openssl checks an operator runs on a kubelet client certificate, one method each. The
/// time is always passed in (no clock inside), so tests and -At evaluate any moment.
/// </summary>
internal static class CertificateChecks
{
    private static string Date(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
    private static DateTimeOffset Utc(DateTime time) => new(DateTime.SpecifyKind(time, DateTimeKind.Utc));
    private static string Subject(X509Certificate c) => CertificateInfo.FormatName(c.SubjectDN);

    /// <summary>`openssl x509 -pubkey` vs `openssl pkey -pubout`: the key's public half is the certificate's.</summary>
    public static CertificateCheckResult KeyMatchesCertificate(NodeCredentials credentials)
    {
        const string name = CertificateCheckNames.KeyMatchesCertificate;
        if (credentials.PrivateKey is null)
        {
            return new(name, false,
                $"No private key: {credentials.CertificateSource} holds only the certificate; pass the key file (-KeyPath).");
        }
        var certificateKey = credentials.Leaf.GetPublicKey();
        var publicKey = PublicKeyOf(credentials.PrivateKey);
        var (certAlgorithm, certSize, certCurve) = CertificateInfo.DescribePublicKey(certificateKey);
        var certDescription = $"{certAlgorithm} {certCurve ?? certSize.ToString(CultureInfo.InvariantCulture)}";
        if (publicKey is null)
        {
            return new(name, false, $"The private key in {credentials.KeySource} is of an unsupported kind ({credentials.PrivateKey.GetType().Name}).");
        }
        var (keyAlgorithm, keySize, keyCurve) = CertificateInfo.DescribePublicKey(publicKey);
        var keyDescription = $"{keyAlgorithm} {keyCurve ?? keySize.ToString(CultureInfo.InvariantCulture)}";
        if (SamePublicKey(certificateKey, publicKey))
        {
            return new(name, true, $"The private key in {credentials.KeySource} matches the certificate's {certDescription} public key.");
        }
        return new(name, false, keyDescription == certDescription
            ? $"The private key in {credentials.KeySource} does not match the certificate: both are {certDescription} but the public keys differ (a key from another certificate or an earlier rotation?)."
            : $"The private key in {credentials.KeySource} is {keyDescription} but the certificate holds an {certDescription} public key.");
    }

    internal static AsymmetricKeyParameter? PublicKeyOf(AsymmetricKeyParameter privateKey) => privateKey switch
    {
        ECPrivateKeyParameters ec => new ECPublicKeyParameters(ec.Parameters.G.Multiply(ec.D).Normalize(), ec.Parameters),
        RsaPrivateCrtKeyParameters rsa => new RsaKeyParameters(false, rsa.Modulus, rsa.PublicExponent),
        Ed25519PrivateKeyParameters ed => ed.GeneratePublicKey(),
        Ed448PrivateKeyParameters ed => ed.GeneratePublicKey(),
        _ => null,
    };

    private static bool SamePublicKey(AsymmetricKeyParameter a, AsymmetricKeyParameter b) => (a, b) switch
    {
        (ECPublicKeyParameters x, ECPublicKeyParameters y) =>
            x.Parameters.Curve.Equals(y.Parameters.Curve) && x.Q.GetEncoded(false).AsSpan().SequenceEqual(y.Q.GetEncoded(false)),
        (RsaKeyParameters x, RsaKeyParameters y) => x.Modulus.Equals(y.Modulus) && x.Exponent.Equals(y.Exponent),
        (Ed25519PublicKeyParameters x, Ed25519PublicKeyParameters y) => x.GetEncoded().AsSpan().SequenceEqual(y.GetEncoded()),
        (Ed448PublicKeyParameters x, Ed448PublicKeyParameters y) => x.GetEncoded().AsSpan().SequenceEqual(y.GetEncoded()),
        _ => false,
    };

    /// <summary>`openssl x509 -checkend 0` and the not-before side openssl verify checks.</summary>
    public static CertificateCheckResult ValidAt(X509Certificate certificate, DateTimeOffset at)
    {
        const string name = CertificateCheckNames.ValidAt;
        var notBefore = Utc(certificate.NotBefore);
        var notAfter = Utc(certificate.NotAfter);
        if (at < notBefore)
        {
            return new(name, false, $"Not yet valid at {Date(at)}: valid from {Date(notBefore)} to {Date(notAfter)} (is the node's clock behind?).");
        }
        if (at > notAfter)
        {
            return new(name, false, $"Expired on {Date(notAfter)}, {CertificateInfo.DaysBetween(notAfter, at)} day(s) before {Date(at)}; the kubelet can no longer authenticate with it.");
        }
        return new(name, true, $"Valid at {Date(at)}: from {Date(notBefore)} to {Date(notAfter)}.");
    }

    /// <summary>
    /// `openssl verify -CAfile ca.crt [-untrusted chain] cert`: walks from the leaf through the
    /// intermediates the file carries to a CA of the bundle, checking each signature with the
    /// issuer's key, that the issuer is a CA, and that it is valid at <paramref name="at"/>.
    /// </summary>
    public static CertificateCheckResult ChainsToCA(NodeCredentials credentials, IReadOnlyList<X509Certificate>? authorities, string? authoritySource, DateTimeOffset at)
    {
        const string name = CertificateCheckNames.ChainsToCA;
        if (authorities is null || authorities.Count == 0)
        {
            return new(name, false, "No cluster CA to verify against: pass -CAPath, or a kubeconfig (-KubeconfigPath) whose cluster names certificate-authority(-data).");
        }
        var caNames = string.Join("; ", authorities.Select(a => $"'{Subject(a)}'"));
        var intermediates = credentials.Certificates.Skip(1).ToList();
        var current = credentials.Leaf;
        var path = new List<string> { $"'{Subject(current)}'" };
        for (var depth = 0; depth < 8; depth++)
        {
            var issuer = current.IssuerDN;
            var sameName = authorities.Where(a => a.SubjectDN.Equivalent(issuer)).ToList();
            foreach (var ca in sameName)
            {
                if (!SignedBy(current, ca)) continue;
                if (ca.GetBasicConstraints() < 0)
                {
                    return new(name, false, $"'{Subject(current)}' is signed by '{Subject(ca)}' from {authoritySource}, but that certificate is not a CA (basicConstraints CA:FALSE).");
                }
                if (at < Utc(ca.NotBefore) || at > Utc(ca.NotAfter))
                {
                    return new(name, false, $"The CA '{Subject(ca)}' from {authoritySource} is not valid at {Date(at)} (valid {Date(Utc(ca.NotBefore))} to {Date(Utc(ca.NotAfter))}).");
                }
                path.Add($"CA '{Subject(ca)}'");
                return new(name, true, $"Verified {string.Join(" -> ", path)} from {authoritySource}.");
            }
            if (sameName.Count > 0)
            {
                return new(name, false,
                    $"'{Subject(current)}' names issuer '{CertificateInfo.FormatName(issuer)}' like the CA in {authoritySource}, but its signature does not verify with that CA's key: it was signed by a different CA of the same name (another cluster's CA, or a regenerated one).");
            }
            var intermediate = intermediates.FirstOrDefault(i => i.SubjectDN.Equivalent(issuer) && SignedBy(current, i));
            if (intermediate is null || intermediate.GetBasicConstraints() < 0) break;
            intermediates.Remove(intermediate);
            path.Add($"'{Subject(intermediate)}'");
            current = intermediate;
        }
        return new(name, false,
            $"'{Subject(current)}' is issued by '{CertificateInfo.FormatName(current.IssuerDN)}', which is not among the CAs in {authoritySource} ({caNames}): the certificate does not chain to the cluster CA.");
    }

    private static bool SignedBy(X509Certificate certificate, X509Certificate issuer)
    {
        try
        {
            certificate.Verify(issuer.GetPublicKey());
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// `openssl x509 -ext extendedKeyUsage`: may the certificate authenticate a TLS client?
    /// The rule is Go's crypto/x509, which kube-apiserver uses to verify client certificates
    /// (VerifyOptions.KeyUsages = ClientAuth): no EKU extension means any purpose; otherwise it
    /// must list clientAuth or anyExtendedKeyUsage. Key usage bits are not checked, as Go does not.
    /// </summary>
    public static CertificateCheckResult ClientAuth(X509Certificate certificate)
    {
        const string name = CertificateCheckNames.ClientAuth;
        var oids = CertificateInfo.ExtendedKeyUsageOids(certificate);
        if (oids is null)
        {
            return new(name, true, "No extended key usage extension: any purpose is allowed, client authentication included (Go's x509 rule, used by kube-apiserver).");
        }
        var names = string.Join(", ", oids.Select(o => CertificateInfo.ExtendedKeyUsageNamesByOid.TryGetValue(o, out var n) ? n : o));
        if (oids.Contains(CertificateInfo.ClientAuthOid))
        {
            return new(name, true, $"Extended key usage allows client authentication ({names}).");
        }
        if (oids.Contains(CertificateInfo.AnyExtendedKeyUsageOid))
        {
            return new(name, true, $"Extended key usage includes anyExtendedKeyUsage ({names}).");
        }
        return new(name, false, $"Extended key usage is {names} without ClientAuth: kube-apiserver rejects it as a client certificate.");
    }

    /// <summary>
    /// The Node authorizer's identity: user system:node:NAME in group system:nodes, and NAME
    /// equal to the expected node name when one is given.
    /// </summary>
    public static CertificateCheckResult NodeIdentity(X509Certificate certificate, string? expectedNodeName)
    {
        const string name = CertificateCheckNames.NodeIdentity;
        var commonName = certificate.SubjectDN.GetValueList(Org.BouncyCastle.Asn1.X509.X509Name.CN).LastOrDefault();
        var organizations = certificate.SubjectDN.GetValueList(Org.BouncyCastle.Asn1.X509.X509Name.O);
        var nodeName = CertificateInfo.NodeNameOf(commonName);
        var groups = organizations.Count == 0 ? "no groups" : $"groups {string.Join(", ", organizations)}";
        if (nodeName is null)
        {
            return new(name, false, $"The common name is '{commonName}', not 'system:node:<node name>': the Node authorizer will not treat it as a node ({groups}).");
        }
        if (!organizations.Contains(CertificateInfo.NodesGroup))
        {
            return new(name, false, $"The user is 'system:node:{nodeName}' but the organizations ({groups}) do not include 'system:nodes'.");
        }
        if (expectedNodeName is not null && !string.Equals(nodeName, expectedNodeName, StringComparison.Ordinal))
        {
            return new(name, false, $"The certificate is for node '{nodeName}', not '{expectedNodeName}'.");
        }
        return new(name, true, $"Node identity 'system:node:{nodeName}' in group 'system:nodes'" +
            (expectedNodeName is null ? "." : ", as expected."));
    }

    /// <summary>`openssl x509 -checkend SECONDS`.</summary>
    public static CertificateCheckResult NotExpiringWithin(X509Certificate certificate, DateTimeOffset at, int minimumDays)
    {
        const string name = CertificateCheckNames.NotExpiringWithin;
        var notAfter = Utc(certificate.NotAfter);
        var days = CertificateInfo.DaysBetween(at, notAfter);
        if (notAfter < at)
        {
            return new(name, false, $"Already expired on {Date(notAfter)}.");
        }
        if (notAfter <= at.AddDays(minimumDays))
        {
            return new(name, false, $"Expires on {Date(notAfter)}, in {days} day(s), within the {minimumDays}-day minimum: rotate it (kubelet rotateCertificates, or kubeadm certs renew).");
        }
        return new(name, true, $"Expires on {Date(notAfter)}, in {days} day(s), beyond the {minimumDays}-day minimum.");
    }
}
