using System.Globalization;
using System.Text.RegularExpressions;
using KubeletPS.Core.Certificates.Rotation;

namespace KubeletPS.Core.Certificates.Checks;

/// <summary>
/// Test-KubeletCertificate's rotation view: is rotation overdue (past 90 % of the lifetime), does PAIR-current.pem
/// point at the newest dated file of the certificate directory, and is the key file private to its owner.
/// </summary>
internal static partial class CertificateRotationChecks
{
    private const UnixFileMode GroupOrOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    [GeneratedRegex(@"^(?<pair>.+)-current\.pem$")]
    private static partial Regex CurrentLink();

    private static string Date(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>Past 90 % of notBefore..notAfter the kubelet should have renewed it; an expired one says what to run.</summary>
    public static CertificateCheckResult RotationNotOverdue(DateTimeOffset notBefore, DateTimeOffset notAfter, DateTimeOffset at)
    {
        const string name = CertificateCheckNames.RotationNotOverdue;
        var overdue = CertificateRotationDeadline.Overdue(notBefore, notAfter);
        if (at >= notAfter)
            return new(name, false, $"Expired on {Date(notAfter)}: the node cannot renew it with its own credentials. Renew it through TLS bootstrap with " +
                "'Update-KubeletCertificate -BootstrapKubeconfigPath /etc/kubernetes/bootstrap-kubelet.conf' (a bootstrap kubeconfig with a valid token), " +
                "or join again with 'Join-KubeletCluster -Server <url> -Token <id.secret> -CACertHash sha256:<hash>'.");
        if (at >= overdue)
            return new(name, false, $"Past 90 % of its lifetime since {Date(overdue)} (expires {Date(notAfter)}): the kubelet renews at 70–90 %, so rotation " +
                "has not happened. Check that rotateCertificates is true and the agent reaches the API server, or run 'Update-KubeletCertificate'.");
        return new(name, true, $"Rotation is due between {Date(CertificateRotationDeadline.Next(notBefore, notAfter, 0))} and {Date(overdue)}.");
    }

    /// <summary>
    /// For a PAIR-current.pem link: it must resolve, and to the newest PAIR-YYYY-MM-DD-HH-MM-SS.pem beside it (a link
    /// left on an older file means a rotation was written but not taken into use, or the link was put back by hand).
    /// </summary>
    public static CertificateCheckResult CurrentLinkUpToDate(string? path)
    {
        const string name = CertificateCheckNames.CurrentLinkUpToDate;
        if (path is null) return new(name, true, "The certificate is embedded in the kubeconfig, not a rotated file.");
        var info = new FileInfo(path);
        if (info.LinkTarget is not { } target)
            return new(name, true, $"{path} is a file, not a rotated -current.pem link.");
        var resolved = Path.GetFullPath(target, Path.GetDirectoryName(path)!);
        if (!File.Exists(resolved))
            return new(name, false, $"{path} points at {resolved}, which does not exist: run 'Update-KubeletCertificate' to write a new certificate and link.");
        if (CurrentLink().Match(info.Name) is not { Success: true } match)
            return new(name, true, $"{path} links to {resolved}.");
        var pair = match.Groups["pair"].Value;
        var dated = new Regex("^" + Regex.Escape(pair) + @"-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.pem$");
        var newest = Directory.EnumerateFiles(Path.GetDirectoryName(path)!)
            .Where(f => dated.IsMatch(Path.GetFileName(f))).Order(StringComparer.Ordinal).LastOrDefault();
        if (newest is not null && string.CompareOrdinal(Path.GetFileName(newest), Path.GetFileName(resolved)) > 0)
            return new(name, false, $"{path} points at {Path.GetFileName(resolved)}, but {Path.GetFileName(newest)} is newer: a rotation was written and " +
                $"the link not moved. If {Path.GetFileName(newest)} is valid, point the link at it; else run 'Update-KubeletCertificate'.");
        return new(name, true, $"{path} points at the newest {pair} file, {Path.GetFileName(resolved)}.");
    }

    /// <summary>A symlink whose target does not exist (File.Exists is true for the link itself on Unix).</summary>
    public static bool IsDangling(string? path) =>
        path is not null && new FileInfo(path).LinkTarget is { } target && !File.Exists(Path.GetFullPath(target, Path.GetDirectoryName(path)!));

    /// <summary>The file holding the private key may be read and written by its owner only (kubelet writes 0600).</summary>
    public static CertificateCheckResult KeyFilePrivate(string? keyPath)
    {
        const string name = CertificateCheckNames.KeyFilePrivate;
        if (keyPath is null || OperatingSystem.IsWindows()) return new(name, true, "No key file to check (embedded, or none given).");
        var mode = File.GetUnixFileMode(keyPath);
        var octal = Convert.ToString((int)mode, 8).PadLeft(4, '0');
        return (mode & GroupOrOthers) != 0
            ? new(name, false, $"The key file {keyPath} is mode {octal}: readable by group or others. Run 'chmod 600 {keyPath}' and consider the key exposed (rotate it: Update-KubeletCertificate).")
            : new(name, true, $"The key file {keyPath} is mode {octal}, private to its owner.");
    }
}
