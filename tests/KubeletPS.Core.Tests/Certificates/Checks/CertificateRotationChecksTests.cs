using KubeletPS.Core.Certificates;
using KubeletPS.Core.Certificates.Checks;
using KubeletPS.Core.Certificates.Rotation;
using KubeletPS.TestCluster.Pki;

namespace KubeletPS.Core.Tests.Certificates.Checks;

/// <summary>Test-KubeletCertificate's rotation view on a certificate directory as rotation leaves it, and as it goes wrong.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CertificateRotationChecksTests : IDisposable
{
    private static readonly ClusterPki Pki = new();
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("kubeletps-rotation-view-");

    public void Dispose() => _dir.Delete(true);

    private string Dated(string stamp, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        var issued = Pki.Issue(new CertificateSpec("system:node:node-1") { Organizations = ["system:nodes"], NotBefore = notBefore, NotAfter = notAfter });
        var path = Path.Combine(_dir.FullName, $"kubelet-client-{stamp}.pem");
        KubeletCertificateStore.WritePrivateFileAtomically(path, issued.CombinedPem());
        return path;
    }

    private string Link(string target)
    {
        var link = Path.Combine(_dir.FullName, "kubelet-client-current.pem");
        File.Delete(link);
        File.CreateSymbolicLink(link, target);
        return link;
    }

    private static async Task<CertificateTestReport> TestAsync(string path, DateTimeOffset? at = null) =>
        await NodeCertificateTester.TestAsync(new CertificateTestOptions { Certificate = PemSource.FromFile(path), At = at ?? DateTimeOffset.UtcNow }, null, CancellationToken.None);

    [Fact]
    public async Task A_freshly_rotated_directory_passes_the_rotation_view()
    {
        var now = DateTimeOffset.UtcNow;
        Dated("2026-01-01-00-00-00", now.AddDays(-400), now.AddDays(-35));
        var link = Link(Dated("2026-11-01-00-00-00", now.AddDays(-1), now.AddDays(364)));

        var report = await TestAsync(link);

        Assert.All(report.Checks.Where(c => c.Name is CertificateCheckNames.RotationNotOverdue or CertificateCheckNames.CurrentLinkUpToDate or CertificateCheckNames.KeyFilePrivate),
            c => Assert.True(c.Passed, c.Message));
    }

    [Fact]
    public async Task Past_90_percent_of_its_lifetime_rotation_is_overdue()
    {
        var now = DateTimeOffset.UtcNow;
        var link = Link(Dated("2026-01-01-00-00-00", now.AddDays(-95), now.AddDays(5)));

        var check = (await TestAsync(link)).Checks.Single(c => c.Name == CertificateCheckNames.RotationNotOverdue);

        Assert.False(check.Passed);
        Assert.Contains("Past 90 % of its lifetime", check.Message);
        Assert.Contains("rotateCertificates", check.Message);
    }

    [Fact]
    public async Task An_expired_client_certificate_says_what_to_run()
    {
        var now = DateTimeOffset.UtcNow;
        var link = Link(Dated("2026-01-01-00-00-00", now.AddDays(-400), now.AddDays(-35)));

        var check = (await TestAsync(link)).Checks.Single(c => c.Name == CertificateCheckNames.RotationNotOverdue);

        Assert.False(check.Passed);
        Assert.Contains("Update-KubeletCertificate -BootstrapKubeconfigPath", check.Message);
        Assert.Contains("Join-KubeletCluster", check.Message);
    }

    [Fact]
    public async Task A_current_link_left_on_an_older_file_than_the_newest_dated_one_fails()
    {
        var now = DateTimeOffset.UtcNow;
        var older = Dated("2026-01-01-00-00-00", now.AddDays(-10), now.AddDays(355));
        Dated("2026-11-01-00-00-00", now.AddDays(-1), now.AddDays(364));
        var link = Link(older);

        var check = (await TestAsync(link)).Checks.Single(c => c.Name == CertificateCheckNames.CurrentLinkUpToDate);

        Assert.False(check.Passed);
        Assert.Contains("points at kubelet-client-2026-01-01-00-00-00.pem, but kubelet-client-2026-11-01-00-00-00.pem is newer", check.Message);
    }

    [Fact]
    public async Task A_dangling_current_link_is_reported_instead_of_an_unreadable_file()
    {
        var link = Link(Path.Combine(_dir.FullName, "kubelet-client-2026-01-01-00-00-00.pem"));

        var report = await TestAsync(link);

        var check = Assert.Single(report.Checks);
        Assert.Equal((CertificateCheckNames.CurrentLinkUpToDate, false), (check.Name, check.Passed));
        Assert.Contains("which does not exist", check.Message);
    }

    [Fact]
    public async Task A_key_file_readable_by_others_fails_and_is_called_exposed()
    {
        // Attack surface: a rotated pem copied with cp (0644) lets any local user read the node's key.
        var now = DateTimeOffset.UtcNow;
        var file = Dated("2026-11-01-00-00-00", now.AddDays(-1), now.AddDays(364));
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var link = Link(file);

        var check = (await TestAsync(link)).Checks.Single(c => c.Name == CertificateCheckNames.KeyFilePrivate);

        Assert.False(check.Passed);
        Assert.Contains("mode 0644", check.Message);
        Assert.Contains("chmod 600", check.Message);
    }
}
