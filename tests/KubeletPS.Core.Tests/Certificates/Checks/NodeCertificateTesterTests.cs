using KubeletPS.Core.Certificates;
using KubeletPS.Core.Certificates.Checks;
using KubeletPS.TestCluster.Pki;

namespace KubeletPS.Core.Tests.Certificates.Checks;

[Collection(PkiCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class NodeCertificateTesterTests(PkiFixture pki)
{
    private Task<CertificateTestReport> Test(string certificate, string? ca = "ca.crt", string? key = null, string? nodeName = "node-1",
        DateTimeOffset? at = null, int minimumDays = 30) =>
        NodeCertificateTester.TestAsync(new CertificateTestOptions
        {
            Certificate = PemSource.FromFile(pki[certificate]),
            Key = key is null ? null : PemSource.FromFile(pki[key]),
            CertificateAuthority = ca is null ? null : PemSource.FromFile(pki[ca]),
            NodeName = nodeName,
            At = at ?? DateTimeOffset.UtcNow,
            MinimumDaysRemaining = minimumDays,
        }, null, CancellationToken.None);

    private static string Describe(CertificateTestReport report) =>
        string.Join("\n", report.Checks.Select(c => $"{c.Name} {c.Passed}: {c.Message}"));

    [Fact]
    public async Task The_node_certificate_passes_every_check_in_order()
    {
        var report = await Test("kubelet-client-current.pem");
        Assert.True(report.Passed, Describe(report));
        Assert.Equal(CertificateCheckNames.All, report.Checks.Select(c => c.Name));
        Assert.All(report.Checks, c => Assert.False(string.IsNullOrWhiteSpace(c.Message)));
        Assert.Contains("matches the certificate's EC P-256 public key", report.Checks[0].Message);
        Assert.Contains("-> CA 'CN=kubernetes'", report.Checks[2].Message);
    }

    [Theory]
    [InlineData("expired.pem", new[] { "ValidAt", "NotExpiringWithin", "RotationNotOverdue" }, "Expired on")]
    [InlineData("not-yet-valid.pem", new[] { "ValidAt" }, "Not yet valid at")]
    [InlineData("other-ca-signed.pem", new[] { "ChainsToCA" }, "signed by a different CA of the same name")]
    [InlineData("etcd-ca-signed.pem", new[] { "ChainsToCA" }, "is issued by 'CN=etcd-ca', which is not among the CAs in")]
    [InlineData("mismatched-key.pem", new[] { "KeyMatchesCertificate" }, "both are EC P-256 but the public keys differ")]
    [InlineData("server-only.pem", new[] { "ClientAuth" }, "Extended key usage is ServerAuth without ClientAuth")]
    [InlineData("kube-proxy.pem", new[] { "NodeIdentity" }, "The common name is 'system:kube-proxy', not 'system:node:<node name>'")]
    [InlineData("other-node.pem", new[] { "NodeIdentity" }, "The certificate is for node 'node-2', not 'node-1'.")]
    [InlineData("expiring-soon.pem", new[] { "NotExpiringWithin", "RotationNotOverdue" }, "within the 30-day minimum")]
    public async Task Each_broken_variant_fails_exactly_its_check_with_a_clear_message(string file, string[] failing, string message)
    {
        var report = await Test(file);
        Assert.False(report.Passed);
        Assert.Equal(failing, report.Checks.Where(c => !c.Passed).Select(c => c.Name));
        Assert.Contains(message, report.Checks.First(c => c.Name == failing[0]).Message);
        foreach (var check in report.Checks)
        {
            NodeCertificateReaderTests.AssertNoKeyMaterial(check.Message, pki[file]);
        }
    }

    [Fact]
    public async Task The_time_is_the_one_given()
    {
        var leaf = (await NodeCertificateReader.ReadAsync(PemSource.FromFile(pki["kubelet-client-current.pem"]), null, DateTimeOffset.UtcNow, CancellationToken.None))[0];
        var before = await Test("kubelet-client-current.pem", at: leaf.NotBefore.AddDays(-1));
        Assert.Equal(["ValidAt"], before.Checks.Where(c => !c.Passed).Select(c => c.Name));
        Assert.StartsWith("Not yet valid at " + leaf.NotBefore.AddDays(-1).ToString("yyyy-MM-dd HH:mm:ss"), before.Checks[1].Message);

        var after = await Test("kubelet-client-current.pem", at: leaf.NotAfter.AddDays(3));
        var validAt = after.Checks.Single(c => c.Name == "ValidAt");
        Assert.False(validAt.Passed);
        Assert.Contains("3 day(s) before", validAt.Message);

        var nearEnd = await Test("kubelet-client-current.pem", at: leaf.NotAfter.AddDays(-20), minimumDays: 30);
        Assert.Equal(["NotExpiringWithin", "RotationNotOverdue"], nearEnd.Checks.Where(c => !c.Passed).Select(c => c.Name));
        // 20 days before the end of a year is past 90 % of the lifetime: overdue whatever minimum is asked.
        var relaxed = await Test("kubelet-client-current.pem", at: leaf.NotAfter.AddDays(-20), minimumDays: 7);
        Assert.Equal(["RotationNotOverdue"], relaxed.Checks.Where(c => !c.Passed).Select(c => c.Name));
    }

    [Theory]
    [InlineData("kubelet.conf")]
    [InlineData("kubelet-embedded.conf")]
    public async Task With_no_certificate_everything_comes_from_the_kubeconfig(string kubeconfig)
    {
        var report = await NodeCertificateTester.TestAsync(new CertificateTestOptions { KubeconfigPath = pki[kubeconfig], NodeName = "node-1" }, null, CancellationToken.None);
        Assert.True(report.Passed, Describe(report));
        Assert.NotNull(report.CertificateAuthoritySource);
    }

    [Fact]
    public async Task A_given_ca_replaces_the_kubeconfigs()
    {
        var report = await NodeCertificateTester.TestAsync(new CertificateTestOptions
        {
            KubeconfigPath = pki["kubelet.conf"],
            CertificateAuthority = PemSource.FromFile(pki["other-ca.crt"]),
        }, null, CancellationToken.None);
        Assert.Equal(["ChainsToCA"], report.Checks.Where(c => !c.Passed).Select(c => c.Name));
        Assert.Equal(pki["other-ca.crt"], report.CertificateAuthoritySource);
    }

    [Fact]
    public async Task A_bundle_of_several_cas_verifies_certificates_of_each()
    {
        var bundle = Path.Combine(pki.Directory, "ca-bundle.crt");
        await File.WriteAllTextAsync(bundle, await File.ReadAllTextAsync(pki["other-ca.crt"]) + await File.ReadAllTextAsync(pki["ca.crt"]));
        foreach (var file in new[] { "kubelet-client-current.pem", "other-ca-signed.pem" })
        {
            var report = await NodeCertificateTester.TestAsync(new CertificateTestOptions
            {
                Certificate = PemSource.FromFile(pki[file]),
                CertificateAuthority = PemSource.FromFile(bundle),
            }, null, CancellationToken.None);
            Assert.True(report.Passed, Describe(report));
        }
    }

    [Fact]
    public async Task A_chain_file_verifies_through_its_certificates()
    {
        var report = await Test("chain.pem", key: "kubelet-client.key");
        Assert.True(report.Passed, Describe(report));
    }

    [Fact]
    public async Task A_certificate_that_is_not_a_ca_cannot_anchor_the_chain()
    {
        // The node's own certificate given as the "CA" of a certificate it did not sign.
        var report = await Test("kubelet-client-current.pem", ca: "kubelet-client.crt");
        var chain = report.Checks.Single(c => c.Name == "ChainsToCA");
        Assert.False(chain.Passed);
        Assert.Contains("not among the CAs", chain.Message);
    }

    [Fact]
    public async Task Without_a_key_or_a_ca_those_checks_fail_and_say_what_to_pass()
    {
        var report = await Test("kubelet-client.crt", ca: null);
        var failed = report.Checks.Where(c => !c.Passed).ToDictionary(c => c.Name, c => c.Message);
        Assert.Equal(["KeyMatchesCertificate", "ChainsToCA"], failed.Keys);
        Assert.Contains("-KeyPath", failed["KeyMatchesCertificate"]);
        Assert.Contains("-CAPath", failed["ChainsToCA"]);
    }

    [Fact]
    public async Task A_key_of_another_algorithm_is_named_in_the_failure()
    {
        var report = await Test("kubelet-client.crt", key: "rsa-pkcs1.key");
        var check = report.Checks.Single(c => c.Name == "KeyMatchesCertificate");
        Assert.False(check.Passed);
        Assert.Contains("is RSA 2048 but the certificate holds an EC P-256 public key", check.Message);
    }

    [Fact]
    public async Task No_extended_key_usage_allows_client_auth_as_in_go()
    {
        var ca = new ClusterPki();
        var issued = ca.Issue(new CertificateSpec("system:node:node-1") { Organizations = ["system:nodes"], ClientAuth = false });
        var cert = Path.Combine(pki.Directory, "no-eku.pem");
        var caFile = Path.Combine(pki.Directory, "no-eku-ca.crt");
        await File.WriteAllTextAsync(cert, issued.CombinedPem());
        await File.WriteAllTextAsync(caFile, ca.CA.CertificatePem);
        File.SetUnixFileMode(cert, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var report = await NodeCertificateTester.TestAsync(new CertificateTestOptions
        {
            Certificate = PemSource.FromFile(cert),
            CertificateAuthority = PemSource.FromFile(caFile),
        }, null, CancellationToken.None);
        Assert.True(report.Passed, Describe(report));
        Assert.Contains("No extended key usage extension", report.Checks.Single(c => c.Name == "ClientAuth").Message);
    }

    [Fact]
    public async Task Failed_checks_are_logged_as_decisions()
    {
        var log = new RecordingLog();
        await NodeCertificateTester.TestAsync(new CertificateTestOptions
        {
            Certificate = PemSource.FromFile(pki["server-only.pem"]),
            CertificateAuthority = PemSource.FromFile(pki["ca.crt"]),
        }, log, CancellationToken.None);
        Assert.Contains(log.Lines, l => l.Contains("ClientAuth failed"));
    }

    [Fact]
    public async Task Unusable_input_throws_rather_than_failing_a_check()
    {
        await Assert.ThrowsAsync<CertificateException>(() => Test("encrypted-key.pem"));
        var e = await Assert.ThrowsAsync<CertificateException>(() => Test("kubelet-client-current.pem", ca: "no-certificate.pem"));
        Assert.Equal(CertificateProblem.NoCertificate, e.Problem);
        var missing = await Assert.ThrowsAsync<CertificateException>(() =>
            NodeCertificateTester.TestAsync(new CertificateTestOptions { KubeconfigPath = Path.Combine(pki.Directory, "nope.conf") }, null, CancellationToken.None));
        Assert.Equal(CertificateProblem.FileNotFound, missing.Problem);
    }

    [Fact]
    public async Task A_kubeconfig_without_a_client_certificate_says_which_user_unless_only_its_ca_is_needed()
    {
        var path = Path.Combine(pki.Directory, "token.conf");
        await File.WriteAllTextAsync(path, """
            apiVersion: v1
            kind: Config
            clusters:
            - name: c
              cluster: {server: "https://127.0.0.1:6443", certificate-authority: ca.crt}
            contexts:
            - name: x
              context: {cluster: c, user: bootstrap}
            current-context: x
            users:
            - name: bootstrap
              user: {token: abcdef.0123456789abcdef}
            """);
        var e = await Assert.ThrowsAsync<KubeletConfigException>(() =>
            NodeCertificateTester.TestAsync(new CertificateTestOptions { KubeconfigPath = path }, null, CancellationToken.None));
        Assert.Contains("user 'bootstrap' has neither client-certificate nor client-certificate-data", e.Message);
        Assert.DoesNotContain("abcdef.0123456789abcdef", e.Message);

        // Given a certificate, only the kubeconfig's CA is needed, whatever its user authenticates with.
        var report = await NodeCertificateTester.TestAsync(new CertificateTestOptions
        {
            Certificate = PemSource.FromFile(pki["kubelet-client-current.pem"]),
            KubeconfigPath = path,
        }, null, CancellationToken.None);
        Assert.True(report.Passed, Describe(report));
        Assert.Equal(pki["ca.crt"], report.CertificateAuthoritySource);
    }

    private sealed class RecordingLog : IKubeletLog
    {
        public List<string> Lines { get; } = [];
        public void Write(KubeletLogLevel level, string message) => Lines.Add(message);
    }
}
