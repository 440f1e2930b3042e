using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace KubeletPS.Core.Tests.Api;

/// <summary>How the hostile server sends its body after the 200 OK headers.</summary>
public enum HostileBody
{
    /// <summary>Declares Content-Length <see cref="HostileApiServer.BodyBytes"/> and sends that much.</summary>
    ContentLength,
    /// <summary>Chunked, no end: the body is as long as the client keeps reading (up to <see cref="HostileApiServer.BodyBytes"/>).</summary>
    EndlessChunked,
    /// <summary>Chunked, one watch event line that never ends.</summary>
    EndlessWatchLine,
}

/// <summary>
/// An "API server" that answers every request with 200 and a body far larger than any Kubernetes object, over TLS with a
/// self-signed certificate for 127.0.0.1. It counts the body bytes its writes handed to the connection before the client
/// closed it: what the client was made to take (its reads plus the kernel's socket buffers).
/// </summary>
public sealed class HostileApiServer : IAsyncDisposable
{
    private const int ChunkSize = 64 * 1024;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly X509Certificate2 _certificate;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private long _sent;
    private int _requests;

    public HostileApiServer(HostileBody body, long bodyBytes = 100L * 1024 * 1024)
    {
        Body = body;
        BodyBytes = bodyBytes;
        _certificate = SelfSigned();
        CertificatePem = _certificate.ExportCertificatePem() + "\n";
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public HostileBody Body { get; }
    public long BodyBytes { get; }
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public string Url => $"https://127.0.0.1:{Port}";
    public string CertificatePem { get; }

    /// <summary>Body bytes written to connections so far, over all requests.</summary>
    public long BytesSent => Interlocked.Read(ref _sent);
    public int Requests => Volatile.Read(ref _requests);

    private async Task AcceptAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                // A small send buffer so that what is counted is close to what the client read.
                client.SendBufferSize = 16 * 1024;
                connections.Add(ServeAsync(client));
            }
        }
        catch (OperationCanceledException) { }
        catch (SocketException) { }
        await Task.WhenAll(connections);
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                await using var tls = new SslStream(client.GetStream());
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, _stop.Token);
                await ReadRequestHeadAsync(tls);
                Interlocked.Increment(ref _requests);
                await SendAsync(tls);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
            {
                // The client gave up: that is the point.
            }
        }
    }

    private static async Task ReadRequestHeadAsync(Stream stream)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 64 * 1024 && await stream.ReadAsync(one) == 1)
        {
            head.Add(one[0]);
            if (head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n') return;
        }
        throw new IOException("no request head");
    }

    private async Task SendAsync(Stream stream)
    {
        var chunked = Body != HostileBody.ContentLength;
        var headers = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" +
            (chunked ? "Transfer-Encoding: chunked\r\n" : $"Content-Length: {BodyBytes}\r\n") + "\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(headers));
        // A JSON string that never closes: nothing can be parsed before the whole body is in.
        var opening = Body == HostileBody.EndlessWatchLine
            ? "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\""
            : "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"";
        var data = new byte[ChunkSize];
        Array.Fill(data, (byte)'a');
        Encoding.ASCII.GetBytes(opening).CopyTo(data, 0);
        var chunkHead = Encoding.ASCII.GetBytes($"{ChunkSize:x}\r\n");
        var crlf = "\r\n"u8.ToArray();
        for (long sent = 0; sent < BodyBytes; sent += ChunkSize)
        {
            if (chunked) await stream.WriteAsync(chunkHead, _stop.Token);
            await stream.WriteAsync(data, _stop.Token);
            if (chunked) await stream.WriteAsync(crlf, _stop.Token);
            Interlocked.Add(ref _sent, ChunkSize);
            if (sent == 0) Array.Fill(data, (byte)'a');
        }
        if (chunked) await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), _stop.Token);
        await stream.FlushAsync(_stop.Token);
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=hostile-apiserver", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        _certificate.Dispose();
        _stop.Dispose();
    }
}
