using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KubeletPS.Core.Certificates.Bootstrap;

namespace KubeletPS.Core.Certificates.Rotation;

/// <summary>Which of the kubelet's two rotated certificates.</summary>
public enum KubeletCertificateKind
{
    /// <summary>kubelet-client-current.pem: the node's identity towards the API server.</summary>
    Client,
    /// <summary>kubelet-server-current.pem: what the kubelet server on port 10250 presents.</summary>
    Serving,
}

/// <summary>
/// What a kubelet asks for when it renews one of its certificates (pkg/kubelet/certificate/kubelet.go
/// NewKubeletClientCertificateManager, NewKubeletServerCertificateManager): the subject O=system:nodes,
/// CN=system:node:NAME, the signer, the usages for an EC key (key encipherment is for RSA keys only), the SANs of a
/// serving certificate, and the pair name of its files.
/// </summary>
public sealed class KubeletCertificateTemplate
{
    public const string ServingSignerName = "kubernetes.io/kubelet-serving";

    private KubeletCertificateTemplate(KubeletCertificateKind kind, string nodeName, string pairName, string signerName, IReadOnlyList<string> usages,
        IReadOnlyList<string> dnsNames, IReadOnlyList<IPAddress> ipAddresses)
    {
        Kind = kind;
        NodeName = nodeName;
        PairName = pairName;
        SignerName = signerName;
        Usages = usages;
        DnsNames = dnsNames;
        IpAddresses = ipAddresses;
    }

    public KubeletCertificateKind Kind { get; }
    public string NodeName { get; }

    /// <summary>The file pair: kubelet-client or kubelet-server (PAIR-current.pem, PAIR-DATE.pem).</summary>
    public string PairName { get; }
    public string SignerName { get; }
    public IReadOnlyList<string> Usages { get; }
    public IReadOnlyList<string> DnsNames { get; }
    public IReadOnlyList<IPAddress> IpAddresses { get; }

    /// <summary>"client" or "serving", for messages.</summary>
    public string Description => Kind == KubeletCertificateKind.Client ? "client" : "serving";

    public static KubeletCertificateTemplate Client(string nodeName) =>
        new(KubeletCertificateKind.Client, nodeName, "kubelet-client", NodeClientCertificateRequest.SignerName, NodeClientCertificateRequest.Usages, [], []);

    /// <summary>
    /// The serving certificate for the node's host names and addresses (kubelet: the hostname and the addresses in the
    /// Node's status); at least one SAN is required, as kubelet refuses to request a serving certificate without one.
    /// </summary>
    public static KubeletCertificateTemplate Serving(string nodeName, IEnumerable<string> dnsNames, IEnumerable<IPAddress> ipAddresses)
    {
        var dns = dnsNames.Where(d => !string.IsNullOrWhiteSpace(d)).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var ips = ipAddresses.Distinct().ToList();
        if (dns.Count == 0 && ips.Count == 0)
            throw new KubeletException($"Node {nodeName} has no host name or address to put in a serving certificate.", KubeletErrorKind.InvalidArgument, nodeName);
        return new(KubeletCertificateKind.Serving, nodeName, "kubelet-server", ServingSignerName, ["digital signature", "server auth"], dns, ips);
    }

    /// <summary>The PKCS#10 request signed by <paramref name="key"/>: the node subject, and for serving the SAN extension.</summary>
    public string CreateRequestPem(ECDsa key)
    {
        var request = new CertificateRequest(NodeClientCertificateRequest.Subject(NodeName), key, HashAlgorithmName.SHA256);
        if (Kind == KubeletCertificateKind.Serving)
        {
            var sans = new SubjectAlternativeNameBuilder();
            foreach (var dns in DnsNames) sans.AddDnsName(dns);
            foreach (var ip in IpAddresses) sans.AddIpAddress(ip);
            request.CertificateExtensions.Add(sans.Build());
        }
        return request.CreateSigningRequestPem();
    }
}
