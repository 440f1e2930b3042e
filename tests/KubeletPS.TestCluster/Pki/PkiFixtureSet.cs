using System.Security.Cryptography;
using System.Text;

namespace KubeletPS.TestCluster.Pki;

/// <summary>What <see cref="PkiFixtureSet.Write"/> wrote: fixture name → absolute path.</summary>
public sealed record PkiFixtureManifest(string Directory, string NodeName, IReadOnlyDictionary<string, string> Files)
{
    public string this[string name] => Files[name];
}

/// <summary>
/// A kubeadm-shaped set of node certificate files for tests: the cluster CA, the node's
/// kubelet-client-current.pem (EC P-256 certificate + SEC1 key, as the kubelet writes it),
/// the same as separate files, and one broken variant per thing Test-KubeletCertificate checks.
/// Key files (and kubeconfigs with embedded keys) are mode 0600, as on a node.
/// </summary>
public static class PkiFixtureSet
{
    public static PkiFixtureManifest Write(string directory, string nodeName = "node-1")
    {
        Directory.CreateDirectory(directory);
        directory = Path.GetFullPath(directory);
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        void Put(string name, string fileName, string content, bool secret)
        {
            var path = Path.Combine(directory, fileName);
            File.WriteAllText(path, content, new UTF8Encoding(false));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, secret
                    ? UnixFileMode.UserRead | UnixFileMode.UserWrite
                    : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            }
            files[name] = path;
        }

        var pki = new ClusterPki();
        Put("ca.crt", "ca.crt", pki.CA.CertificatePem, secret: false);
        Put("ca.key", "ca.key", pki.CA.KeyPem(TestKeyEncoding.Pkcs1), secret: true);

        var node = pki.IssueNode(nodeName);
        Put("kubelet-client-current.pem", "kubelet-client-current.pem", node.CombinedPem(), secret: true);
        Put("kubelet-client.crt", "kubelet-client.crt", node.CertificatePem, secret: false);
        Put("kubelet-client.key", "kubelet-client.key", node.KeyPem(TestKeyEncoding.Sec1), secret: true);
        Put("kubelet-client-pkcs8.key", "kubelet-client-pkcs8.key", node.KeyPem(TestKeyEncoding.Pkcs8), secret: true);
        // A chain file: the leaf followed by the CA, as some signers return it.
        Put("chain.pem", "chain.pem", node.CertificatePem + pki.CA.CertificatePem, secret: false);

        var now = DateTimeOffset.UtcNow;
        CertificateSpec NodeSpec() => new($"system:node:{nodeName}") { Organizations = ["system:nodes"] };
        Put("expired.pem", "expired.pem",
            pki.Issue(NodeSpec() with { NotBefore = now.AddDays(-400), NotAfter = now.AddDays(-35) }).CombinedPem(), secret: true);
        Put("not-yet-valid.pem", "not-yet-valid.pem",
            pki.Issue(NodeSpec() with { NotBefore = now.AddDays(2), NotAfter = now.AddDays(367) }).CombinedPem(), secret: true);
        Put("expiring-soon.pem", "expiring-soon.pem",
            pki.Issue(NodeSpec() with { NotBefore = now.AddDays(-355), NotAfter = now.AddDays(10) }).CombinedPem(), secret: true);

        // Another kubeadm cluster's CA: the same name "kubernetes", another key.
        var otherPki = new ClusterPki();
        Put("other-ca.crt", "other-ca.crt", otherPki.CA.CertificatePem, secret: false);
        Put("other-ca-signed.pem", "other-ca-signed.pem", otherPki.IssueNode(nodeName).CombinedPem(), secret: true);
        var unrelatedPki = new ClusterPki("etcd-ca");
        Put("etcd-ca-signed.pem", "etcd-ca-signed.pem", unrelatedPki.IssueNode(nodeName).CombinedPem(), secret: true);

        var stranger = pki.IssueNode(nodeName);
        Put("mismatched-key.pem", "mismatched-key.pem", node.CertificatePem + stranger.KeyPem(TestKeyEncoding.Sec1), secret: true);
        Put("server-only.pem", "server-only.pem",
            pki.Issue(NodeSpec() with { ClientAuth = false, ServerAuth = true, DnsNames = [nodeName] }).CombinedPem(), secret: true);
        Put("kube-proxy.pem", "kube-proxy.pem",
            pki.Issue(new CertificateSpec("system:kube-proxy") { Organizations = ["system:node-proxier"] }).CombinedPem(), secret: true);
        Put("other-node.pem", "other-node.pem", pki.IssueNode("node-2").CombinedPem(), secret: true);

        var rsa = pki.IssueNode(nodeName, TestKeyType.Rsa2048);
        Put("rsa-pkcs8.pem", "rsa-pkcs8.pem", rsa.CombinedPem(TestKeyEncoding.Pkcs8), secret: true);
        Put("rsa-pkcs1.pem", "rsa-pkcs1.pem", rsa.CombinedPem(TestKeyEncoding.Pkcs1), secret: true);
        Put("rsa.crt", "rsa.crt", rsa.CertificatePem, secret: false);
        Put("rsa-pkcs1.key", "rsa-pkcs1.key", rsa.KeyPem(TestKeyEncoding.Pkcs1), secret: true);

        Put("encrypted-key.pem", "encrypted-key.pem", node.CertificatePem + node.KeyPem(TestKeyEncoding.EncryptedPkcs8, "secret"), secret: true);
        Put("legacy-encrypted-key.pem", "legacy-encrypted-key.pem", node.CertificatePem + LegacyEncryptedKeyPem(), secret: true);
        Put("no-certificate.pem", "no-certificate.pem", node.KeyPem(TestKeyEncoding.Sec1), secret: true);
        Put("garbage.key", "garbage.key",
            "-----BEGIN EC PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbCwganVzdCB0ZXh0Cg==\n-----END EC PRIVATE KEY-----\n", secret: true);
        Put("not-pem.crt", "not-pem.crt", "this is not a certificate\n", secret: false);

        // The kubelet's kubeconfig as kubeadm writes it after TLS bootstrap: relative paths here.
        Put("kubelet.conf", "kubelet.conf", Kubeconfig(nodeName,
            "    certificate-authority: ca.crt\n",
            "    client-certificate: kubelet-client-current.pem\n    client-key: kubelet-client-current.pem\n"), secret: false);
        static string B64(string pem) => Convert.ToBase64String(Encoding.ASCII.GetBytes(pem));
        Put("kubelet-embedded.conf", "kubelet-embedded.conf", Kubeconfig(nodeName,
            $"    certificate-authority-data: {B64(pki.CA.CertificatePem)}\n",
            $"    client-certificate-data: {B64(node.CertificatePem)}\n    client-key-data: {B64(node.KeyPem())}\n"), secret: true);

        return new PkiFixtureManifest(directory, nodeName, files);
    }

    private static string Kubeconfig(string nodeName, string cluster, string user) => $"""
        apiVersion: v1
        kind: Config
        clusters:
        - cluster:
            server: https://127.0.0.1:6443
        {cluster.TrimEnd('\n')}
          name: kubernetes
        contexts:
        - context:
            cluster: kubernetes
            user: system:node:{nodeName}
          name: system:node:{nodeName}@kubernetes
        current-context: system:node:{nodeName}@kubernetes
        preferences: {"{}"}
        users:
        - name: system:node:{nodeName}
          user:
        {user.TrimEnd('\n')}

        """;

    /// <summary>An OpenSSL "traditional" encrypted key: only the headers matter to a reader that refuses it.</summary>
    private static string LegacyEncryptedKeyPem()
    {
        var body = Convert.ToBase64String(RandomNumberGenerator.GetBytes(128), Base64FormattingOptions.InsertLineBreaks).Replace("\r", "");
        return $"-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,{Convert.ToHexString(RandomNumberGenerator.GetBytes(16))}\n\n{body}\n-----END EC PRIVATE KEY-----\n";
    }
}
