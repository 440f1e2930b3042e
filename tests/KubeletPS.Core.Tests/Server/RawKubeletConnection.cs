using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using KubeletPS.Core.Server;
using KubeletPS.TestCluster.Pki;

namespace KubeletPS.Core.Tests.Server;

/// <summary>
/// One TLS connection to a <see cref="KubeletServerTestHost"/> driven byte by byte, for what an HttpClient will not send:
/// a request whose body never ends, headers that trickle in, a header of megabytes. The server's certificate is checked
/// against the one it wrote (as <see cref="KubeletServerTestHost.Client"/> does).
/// </summary>
internal sealed class RawKubeletConnection : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly byte[] _read = new byte[16 * 1024];
    private readonly StringBuilder _received = new();

    private RawKubeletConnection(TcpClient tcp, SslStream tls)
    {
        _tcp = tcp;
        Stream = tls;
    }

    public SslStream Stream { get; }

    /// <summary>Everything read so far, as text.</summary>
    public string Received => _received.ToString();

    public static async Task<RawKubeletConnection> OpenAsync(KubeletServerTestHost host, IssuedCertificate? certificate = null)
    {
        var served = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(host.Directory, "pki", ServingCertificates.SelfSignedCertificateFile));
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", host.Server.Port);
        var tls = new SslStream(tcp.GetStream(), false, (_, cert, _, errors) =>
            cert is not null && cert.GetCertHashString() == served.GetCertHashString() && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == 0);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "127.0.0.1",
            // HTTP/1.1 only: what is written here is HTTP/1.1 text.
            ApplicationProtocols = [SslApplicationProtocol.Http11],
        };
        if (certificate is not null)
        {
            var withKey = certificate.WithKey();
            options.ClientCertificates = [withKey];
            options.LocalCertificateSelectionCallback = (_, _, _, _, _) => withKey;
        }
        await tls.AuthenticateAsClientAsync(options);
        return new RawKubeletConnection(tcp, tls);
    }

    public Task WriteAsync(string text, CancellationToken cancellationToken = default) =>
        Stream.WriteAsync(Encoding.ASCII.GetBytes(text), cancellationToken).AsTask();

    /// <summary>Reads until the server closes the connection (true) or <paramref name="cancellationToken"/> fires (false).</summary>
    public async Task<bool> ReadUntilClosedAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var n = await Stream.ReadAsync(_read, cancellationToken);
                if (n == 0) return true;
                _received.Append(Encoding.ASCII.GetString(_read, 0, n));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (IOException)
        {
            return true; // reset by the server
        }
    }

    /// <summary>Reads until a whole response head (status line and headers) has arrived; the status code, or null when the connection closed first.</summary>
    public async Task<int?> ReadStatusAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!Received.Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var n = await Stream.ReadAsync(_read, cancellationToken);
                if (n == 0) break;
                _received.Append(Encoding.ASCII.GetString(_read, 0, n));
            }
        }
        catch (IOException)
        {
            // reset: what arrived before counts
        }
        var text = Received;
        return text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) && text.Length >= 12 && int.TryParse(text.AsSpan(9, 3), out var status) ? status : null;
    }

    public ValueTask DisposeAsync()
    {
        Stream.Dispose();
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
