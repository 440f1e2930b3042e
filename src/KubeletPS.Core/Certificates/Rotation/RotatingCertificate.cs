using System.Security.Cryptography.X509Certificates;
using KubeletPS.Core.Api;

namespace KubeletPS.Core.Certificates.Rotation;

/// <summary>
/// The one owner of a rotated kubelet certificate and its key: the client certificate an API client presents, consulted
/// on every new TLS connection (SslClientAuthenticationOptions.LocalCertificateSelectionCallback) as kubelet's
/// transport.go reads the certificate manager's Current(); or the serving certificate the kubelet server presents
/// (a ServerCertificateSelector reads <see cref="Current"/>). <see cref="Swap"/> installs a renewed certificate and closes
/// every connection the clients opened, so that nothing keeps talking with the old one: the next request, and every
/// watch that reconnects, presents the new certificate.
/// </summary>
public sealed class RotatingCertificate : IDisposable
{
    private readonly object _lock = new();
    private X509Certificate2 _current;
    private readonly List<X509Certificate2> _retired = [];

    /// <param name="initial">The certificate with its private key; this object owns it from now on.</param>
    public RotatingCertificate(X509Certificate2 initial)
    {
        ArgumentNullException.ThrowIfNull(initial);
        if (!initial.HasPrivateKey) throw new ArgumentException("The client certificate has no private key.", nameof(initial));
        _current = initial;
    }

    /// <summary>The connections of the clients that present this certificate.</summary>
    public ApiConnectionTracker Connections { get; } = new();

    /// <summary>The certificate presented on new connections.</summary>
    public X509Certificate2 Current
    {
        get { lock (_lock) return _current; }
    }

    /// <summary>Raised after a swap with the new certificate (on the thread that swapped).</summary>
    public event Action<X509Certificate2>? Changed;

    /// <summary>SslClientAuthenticationOptions.LocalCertificateSelectionCallback: always the current certificate.</summary>
    public X509Certificate Select(object sender, string targetHost, X509CertificateCollection localCertificates, X509Certificate? remoteCertificate,
        string[] acceptableIssuers) => Current;

    /// <summary>
    /// Presents <paramref name="renewed"/> (with its key; now owned here) from now on and closes every open connection
    /// (transport.go updateTransport's closeAllConns); returns how many were closed.
    /// </summary>
    public int Swap(X509Certificate2 renewed)
    {
        ArgumentNullException.ThrowIfNull(renewed);
        if (!renewed.HasPrivateKey) throw new ArgumentException("The renewed certificate has no private key.", nameof(renewed));
        lock (_lock)
        {
            // The old certificate may still be in use by a handshake under way: keep it until disposal.
            _retired.Add(_current);
            _current = renewed;
        }
        var closed = Connections.CloseAll();
        Changed?.Invoke(renewed);
        return closed;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var certificate in _retired) certificate.Dispose();
            _retired.Clear();
            _current.Dispose();
        }
    }
}
