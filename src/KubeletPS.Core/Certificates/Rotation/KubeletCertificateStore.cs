using System.Globalization;

namespace KubeletPS.Core.Certificates.Rotation;

/// <summary>
/// client-go's certificate file store (util/certificate/certificate_store.go) for one pair name ("kubelet-client"):
/// each certificate is written with its key to PAIR-YYYY-MM-DD-HH-MM-SS.pem (mode 0600) and PAIR-current.pem is a
/// symlink to the newest one, swapped by creating PAIR-updated.pem and renaming it over the current link, so a reader
/// sees either the old pair or the new one, never a mix. Files are written to a temporary name and renamed into place.
/// </summary>
public sealed class KubeletCertificateStore(string directory, string pairName = "kubelet-client")
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public string Directory { get; } = Path.GetFullPath(directory);

    /// <summary>PAIR-current.pem, the path kubelet.conf names for both the certificate and the key.</summary>
    public string CurrentPath => Path.Combine(Directory, $"{pairName}-current.pem");

    private string UpdatedPath => Path.Combine(Directory, $"{pairName}-updated.pem");

    /// <summary>Where a private key waits until its CSR is issued (kubelet's kubelet-client.key.tmp), so a retry reuses it.</summary>
    public string PendingKeyPath => Path.Combine(Directory, $"{pairName}.key.tmp");

    /// <summary>Writes the issued certificate and its key to a new dated file and points the current link at it; returns the file.</summary>
    public string Update(string certificatePem, string keyPem, DateTimeOffset now)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var stamp = now.UtcDateTime.ToString("yyyy-MM-dd-HH-mm-ss", CultureInfo.InvariantCulture);
        var pemPath = Path.Combine(Directory, $"{pairName}-{stamp}.pem");
        WritePrivateFileAtomically(pemPath, certificatePem.TrimEnd() + "\n" + keyPem.TrimEnd() + "\n");
        UpdateSymlink(pemPath);
        return pemPath;
    }

    /// <summary>certificate_store.go updateSymlink, with the rename replacing the current link in one step.</summary>
    private void UpdateSymlink(string pemPath)
    {
        foreach (var link in new[] { CurrentPath, UpdatedPath })
        {
            var info = new FileInfo(link);
            if (info.Exists || info.LinkTarget is not null)
            {
                if (info.LinkTarget is null)
                    throw new CertificateException(CertificateProblem.FileUnreadable, link, "expected a symlink but it is a file; move it away so the kubelet can manage its certificates.");
                if (link == UpdatedPath) File.Delete(link);
            }
        }
        File.CreateSymbolicLink(UpdatedPath, pemPath);
        File.Move(UpdatedPath, CurrentPath, overwrite: true);
    }

    /// <summary>Writes <paramref name="content"/> mode 0600 under a temporary name, flushes it, and renames it to <paramref name="path"/>.</summary>
    public static void WritePrivateFileAtomically(string path, string content)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        System.IO.Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnly;
            using (var stream = new FileStream(temporary, options))
            {
                var bytes = System.Text.Encoding.UTF8.GetBytes(content);
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temporary, OwnerOnly);
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }
}
