namespace KubeletPS.Core.Certificates;

/// <summary>
/// Where PEM text comes from: a file, or bytes already in memory (a kubeconfig's
/// client-certificate-data). <see cref="Label"/> is what messages call it.
/// </summary>
public sealed record PemSource
{
    private PemSource(string label, string? path, byte[]? data)
    {
        Label = label;
        Path = path;
        Data = data;
    }

    public string Label { get; }
    public string? Path { get; }
    internal byte[]? Data { get; }

    public static PemSource FromFile(string path) => new(path, System.IO.Path.GetFullPath(path), null);

    /// <param name="label">What messages call it, e.g. "client-certificate-data embedded in /etc/kubernetes/kubelet.conf".</param>
    public static PemSource FromData(byte[] data, string label) => new(label, null, data);

    /// <summary>Two sources are the same input when they name the same file (a bundle read for both certificate and key).</summary>
    internal bool IsSameFileAs(PemSource? other) =>
        other is not null && Path is not null && string.Equals(Path, other.Path, StringComparison.Ordinal);

    internal Task<byte[]> ReadAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Read());
    }

    private byte[] Read()
    {
        if (Data is not null) return Data;
        try
        {
            // A regular file within the bound only: a FIFO would wait for a writer forever, /dev/zero never ends.
            return BoundedFile.ReadAllBytes(Path!, BoundedFile.CredentialFileLimit);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CertificateException(CertificateProblem.FileNotFound, Label, "the file does not exist.", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new CertificateException(CertificateProblem.FileUnreadable, Label,
                "permission denied reading the file (the kubelet's key files are mode 0600, owned by root).", e);
        }
        catch (FileRefusedException e)
        {
            throw new CertificateException(CertificateProblem.FileUnreadable, Label, e.Message, e);
        }
    }

    public override string ToString() => Label;
}

/// <summary>
/// The inputs of a certificate check as a kubeconfig names them: the client certificate
/// (possibly a bundle holding the key too, as kubelet-client-current.pem does), an optional
/// separate key, and the cluster CA. Any may be absent.
/// </summary>
public sealed record CertificateSources(PemSource? Certificate, PemSource? Key, PemSource? CertificateAuthority);
