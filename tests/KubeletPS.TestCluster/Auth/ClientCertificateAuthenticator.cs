using System.Security.Cryptography.X509Certificates;

namespace KubeletPS.TestCluster.Auth;

/// <summary>
/// The x509 request authenticator: a client certificate that chains to the cluster CA, is within its validity and allows
/// client authentication identifies the user by CN and the groups by O. Like kube-apiserver, a presented certificate that
/// fails verification makes the request 401 Unauthorized rather than anonymous; no certificate means anonymous.
/// </summary>
public sealed class ClientCertificateAuthenticator(X509Certificate2 clusterCa, TimeProvider time)
{
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";

    /// <summary>The user, or null when a certificate was presented but is not valid for this cluster.</summary>
    public UserInfo? Authenticate(X509Certificate2? certificate, out string? failure)
    {
        failure = null;
        if (certificate is null) return UserInfo.Anonymous;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(clusterCa);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = time.GetUtcNow().UtcDateTime;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid(ClientAuthOid));
        if (!chain.Build(certificate))
        {
            failure = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()));
            return null;
        }
        var cn = certificate.GetNameInfo(X509NameType.SimpleName, false);
        if (string.IsNullOrEmpty(cn))
        {
            failure = "certificate has no common name";
            return null;
        }
        var groups = OrganizationsOf(certificate).Append(UserInfo.AllAuthenticated).ToList();
        return new UserInfo(cn, groups);
    }

    private static IEnumerable<string> OrganizationsOf(X509Certificate2 certificate)
    {
        foreach (var rdn in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            if (rdn.GetSingleElementType().Value == "2.5.4.10" && rdn.GetSingleElementValue() is { } o) yield return o;
        }
    }
}
