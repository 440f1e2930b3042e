using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KubeletPS.Core.Certificates;
using KubeletPS.Core.Certificates.Checks;
using KubeletPS.TestCluster.Pki;

namespace KubeletPS.Core.Tests.Certificates.Checks;

[Collection(PkiCollection.Name)]
public sealed class NodeCertificateReaderTests(PkiFixture pki)
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private static Task<IReadOnlyList<CertificateInfo>> Read(string path, string? key = null) =>
        NodeCertificateReader.ReadAsync(PemSource.FromFile(path), key is null ? null : PemSource.FromFile(key), Now, CancellationToken.None);

    [Fact]
    public async Task Reads_the_combined_pem_with_its_sec1_key()
    {
        var info = Assert.Single(await Read(pki["kubelet-client-current.pem"]));
        Assert.True(info.HasPrivateKey);
        Assert.Equal(pki["kubelet-client-current.pem"], info.KeySource);
        Assert.Equal(0, info.Index);
    }

    [Theory]
    [InlineData("kubelet-client.crt", "kubelet-client.key", "EC", 256, "P-256")]
    [InlineData("kubelet-client.crt", "kubelet-client-pkcs8.key", "EC", 256, "P-256")]
    [InlineData("rsa.crt", "rsa-pkcs1.key", "RSA", 2048, null)]
    [InlineData("rsa-pkcs8.pem", null, "RSA", 2048, null)]
    [InlineData("rsa-pkcs1.pem", null, "RSA", 2048, null)]
    public async Task Reads_every_key_encoding_and_the_key_matches(string certificate, string? key, string algorithm, int size, string? curve)
    {
        var info = Assert.Single(await Read(pki[certificate], key is null ? null : pki[key]));
        Assert.Equal(algorithm, info.KeyAlgorithm);
        Assert.Equal(size, info.KeySize);
        Assert.Equal(curve, info.Curve);
        Assert.True(info.HasPrivateKey);
        Assert.Equal(pki[key ?? certificate], info.KeySource);

        var report = await NodeCertificateTester.TestAsync(new CertificateTestOptions
        {
            Certificate = PemSource.FromFile(pki[certificate]),
            Key = key is null ? null : PemSource.FromFile(pki[key]),
            CertificateAuthority = PemSource.FromFile(pki["ca.crt"]),
        }, null, CancellationToken.None);
        Assert.True(report.Passed, string.Join("\n", report.Checks.Select(c => c.Message)));
    }

    [Fact]
    public async Task Describes_the_node_identity_usages_serial_and_fingerprint_like_dotnet_and_openssl()
    {
        var info = Assert.Single(await Read(pki["kubelet-client-current.pem"]));
        using var dotnet = X509CertificateLoader.LoadCertificateFromFile(pki["kubelet-client.crt"]);
        Assert.Equal("CN=system:node:node-1, O=system:nodes", info.Subject);
        Assert.Equal("CN=kubernetes", info.Issuer);
        Assert.Equal("system:node:node-1", info.CommonName);
        Assert.Equal("node-1", info.NodeName);
        Assert.Equal(["system:nodes"], info.Groups);
        Assert.Equal(["ClientAuth"], info.ExtendedKeyUsages);
        Assert.Contains("DigitalSignature", info.KeyUsages);
        Assert.False(info.IsCA);
        Assert.Equal(dotnet.GetCertHashString(HashAlgorithmName.SHA256), info.Sha256Fingerprint.Replace(":", ""));
        Assert.Matches("^([0-9A-F]{2}:){31}[0-9A-F]{2}$", info.Sha256Fingerprint);
        Assert.Equal(dotnet.SerialNumber.TrimStart('0'), info.SerialNumber.TrimStart('0'));
        Assert.Equal(dotnet.NotAfter.ToUniversalTime(), info.NotAfter.UtcDateTime);
        Assert.Equal("SHA-256withRSA", info.SignatureAlgorithm);
    }

    [Fact]
    public async Task Days_remaining_are_counted_from_the_time_given()
    {
        var leaf = Assert.Single(await Read(pki["kubelet-client-current.pem"]));
        var at = leaf.NotAfter.AddDays(-10).AddHours(-1);
        var info = Assert.Single(await NodeCertificateReader.ReadAsync(PemSource.FromFile(pki["kubelet-client-current.pem"]), null, at, CancellationToken.None));
        Assert.Equal(10, info.DaysRemaining);
        var expired = Assert.Single(await NodeCertificateReader.ReadAsync(PemSource.FromFile(pki["kubelet-client-current.pem"]), null, leaf.NotAfter.AddDays(2), CancellationToken.None));
        Assert.Equal(-2, expired.DaysRemaining);
    }

    [Fact]
    public async Task Reads_subject_alternative_names()
    {
        var server = new ClusterPki().IssueServer();
        var path = Path.Combine(pki.Directory, "apiserver.crt");
        await File.WriteAllTextAsync(path, server.CertificatePem);
        var info = Assert.Single(await Read(path));
        Assert.Contains("localhost", info.DnsNames);
        Assert.Contains("kubernetes.default.svc", info.DnsNames);
        Assert.Equal(["127.0.0.1", "::1"], info.IPAddresses);
        Assert.Equal(["ServerAuth"], info.ExtendedKeyUsages);
        Assert.False(info.HasPrivateKey);
        Assert.Null(info.NodeName);
    }

    [Fact]
    public async Task A_chain_file_yields_the_leaf_then_the_issuer()
    {
        var chain = await Read(pki["chain.pem"]);
        Assert.Equal(2, chain.Count);
        Assert.Equal("node-1", chain[0].NodeName);
        Assert.False(chain[0].IsCA);
        Assert.Equal(1, chain[1].Index);
        Assert.True(chain[1].IsCA);
        Assert.Equal("CN=kubernetes", chain[1].Subject);
    }

    [Theory]
    [InlineData("kubelet.conf", false)]
    [InlineData("kubelet-embedded.conf", true)]
    public async Task Reads_the_client_certificate_the_kubeconfig_names(string kubeconfig, bool embedded)
    {
        var info = Assert.Single(await NodeCertificateReader.ReadFromKubeconfigAsync(pki[kubeconfig], Now, CancellationToken.None));
        Assert.Equal("node-1", info.NodeName);
        Assert.True(info.HasPrivateKey);
        if (embedded)
        {
            Assert.Equal($"client-certificate-data embedded in {pki[kubeconfig]}", info.Source);
            Assert.Equal($"client-key-data embedded in {pki[kubeconfig]}", info.KeySource);
        }
        else
        {
            Assert.Equal(pki["kubelet-client-current.pem"], info.Source);
        }
    }

    [Theory]
    [InlineData("encrypted-key.pem", "ENCRYPTED PRIVATE KEY")]
    [InlineData("legacy-encrypted-key.pem", "EC PRIVATE KEY")]
    public async Task An_encrypted_key_is_a_security_error_without_key_bytes(string file, string label)
    {
        var e = await Assert.ThrowsAsync<CertificateException>(() => Read(pki[file]));
        Assert.Equal(CertificateProblem.KeyEncrypted, e.Problem);
        Assert.Equal(KubeletErrorKind.Security, e.Category);
        Assert.Equal(pki[file], e.Target);
        Assert.Contains("cannot use encrypted keys", e.Message);
        Assert.Contains($"block 2 ({label}", e.Message);
        AssertNoKeyMaterial(e.ToString(), pki[file]);
    }

    [Fact]
    public async Task A_garbage_key_names_the_file_and_the_block()
    {
        var e = await Assert.ThrowsAsync<CertificateException>(() => Read(pki["kubelet-client.crt"], pki["garbage.key"]));
        Assert.Equal(CertificateProblem.KeyUnreadable, e.Problem);
        Assert.Equal(KubeletErrorKind.InvalidData, e.Category);
        Assert.StartsWith(pki["garbage.key"] + ": block 1 (EC PRIVATE KEY, line 1) does not parse as a SEC1 EC private key", e.Message);
        AssertNoKeyMaterial(e.ToString(), pki["garbage.key"]);
    }

    [Theory]
    [InlineData("no-certificate.pem", "no CERTIFICATE block among its 1 PEM block(s) (EC PRIVATE KEY)")]
    [InlineData("not-pem.crt", "no PEM blocks found")]
    public async Task A_file_without_a_certificate_says_so(string file, string message)
    {
        var e = await Assert.ThrowsAsync<CertificateException>(() => Read(pki[file]));
        Assert.Equal(CertificateProblem.NoCertificate, e.Problem);
        Assert.Equal(KubeletErrorKind.InvalidData, e.Category);
        Assert.Contains(message, e.Message);
        AssertNoKeyMaterial(e.ToString(), pki[file]);
    }

    [Fact]
    public async Task A_key_file_that_is_only_a_certificate_is_unreadable_as_a_key()
    {
        var e = await Assert.ThrowsAsync<CertificateException>(() => Read(pki["kubelet-client.crt"], pki["rsa.crt"]));
        Assert.Equal(CertificateProblem.KeyUnreadable, e.Problem);
        Assert.Contains("holds no private key block", e.Message);
    }

    [Fact]
    public async Task A_missing_file_is_not_found_and_named()
    {
        var path = Path.Combine(pki.Directory, "missing.pem");
        var e = await Assert.ThrowsAsync<CertificateException>(() => Read(path));
        Assert.Equal(CertificateProblem.FileNotFound, e.Problem);
        Assert.Equal(KubeletErrorKind.NotFound, e.Category);
        Assert.Equal(path, e.Target);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public async Task A_truncated_or_corrupt_certificate_block_is_named()
    {
        var truncated = Path.Combine(pki.Directory, "truncated.pem");
        var text = await File.ReadAllTextAsync(pki["kubelet-client.crt"]);
        await File.WriteAllTextAsync(truncated, text[..(text.Length / 2)]);
        var e = await Assert.ThrowsAsync<CertificateException>(() => Read(truncated));
        Assert.Equal(CertificateProblem.CertificateUnreadable, e.Problem);
        Assert.Contains("block 1 (CERTIFICATE, line 1) has no '-----END CERTIFICATE-----' line", e.Message);

        var corrupt = Path.Combine(pki.Directory, "corrupt.pem");
        await File.WriteAllTextAsync(corrupt, "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n");
        e = await Assert.ThrowsAsync<CertificateException>(() => Read(corrupt));
        Assert.Equal(CertificateProblem.CertificateUnreadable, e.Problem);
        Assert.Contains("block 1 (CERTIFICATE, line 1) is not valid base64", e.Message);

        var notDer = Path.Combine(pki.Directory, "not-der.pem");
        await File.WriteAllTextAsync(notDer, "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n");
        e = await Assert.ThrowsAsync<CertificateException>(() => Read(notDer));
        Assert.Contains("is not a DER X.509 certificate", e.Message);
    }

    [Fact]
    public async Task Reads_crlf_files_and_skips_ec_parameters_and_openssl_bag_attributes()
    {
        // What 'openssl ecparam -genkey' and 'openssl pkcs12 -nodes' write, edited on Windows.
        var path = Path.Combine(pki.Directory, "openssl-style.pem");
        var text = "Bag Attributes\n    localKeyID: 01\nsubject=CN = system:node:node-1\n"
            + await File.ReadAllTextAsync(pki["kubelet-client.crt"])
            + "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
            + await File.ReadAllTextAsync(pki["kubelet-client.key"]);
        await File.WriteAllTextAsync(path, text.Replace("\n", "\r\n"));
        var info = Assert.Single(await Read(path));
        Assert.True(info.HasPrivateKey);
        Assert.Equal("node-1", info.NodeName);
    }

    [Fact]
    public void Fixture_key_files_are_mode_0600()
    {
        if (OperatingSystem.IsWindows()) return;
        foreach (var name in new[] { "ca.key", "kubelet-client-current.pem", "kubelet-client.key", "rsa-pkcs1.key", "kubelet-embedded.conf" })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(pki[name]));
        }
    }

    internal static void AssertNoKeyMaterial(string text, string keyFile)
    {
        Assert.DoesNotContain("PRIVATE KEY-----", text);
        foreach (var line in PkiFixture.KeyLines(keyFile))
        {
            Assert.DoesNotContain(line, text);
        }
    }
}
