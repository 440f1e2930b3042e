using System.Net;
using System.Security.Cryptography;
using k8s;
using KubeletPS.Core.Api;
using KubeletPS.Core.Certificates.Rotation;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Configuration.Clientcmd;
using KubeletPS.Core.Node;

namespace KubeletPS.Core.Agent;

/// <summary>
/// The node's certificates while the agent runs: the client certificate its API client presents (swapped in place on
/// rotation) and, as the configuration asks, the managers that rotate it (rotateCertificates) and that obtain and
/// rotate the serving certificate (serverTLSBootstrap).
/// </summary>
public sealed class NodeCertificates : IDisposable
{
    private readonly KubeletConfiguration _configuration;
    private readonly NodeAgentOptions _options;
    private readonly NodeAgentRequest _request;
    private readonly RotatingCertificate? _initialServing;

    private NodeCertificates(RotatingCertificate? client, RotatingCertificate? serving, KubeletConfiguration configuration, NodeAgentOptions options,
        NodeAgentRequest request)
    {
        Client = client;
        _initialServing = serving;
        _configuration = configuration;
        _options = options;
        _request = request;
    }

    /// <summary>The client certificate the agent's API client presents; null when kubelet.conf authenticates otherwise (a token).</summary>
    public RotatingCertificate? Client { get; }

    /// <summary>Rotates <see cref="Client"/> (rotateCertificates: true and a client certificate).</summary>
    public KubeletCertificateManager? ClientManager { get; private set; }

    /// <summary>Obtains and rotates the serving certificate (serverTLSBootstrap: true).</summary>
    public KubeletCertificateManager? ServingManager { get; private set; }

    /// <summary>
    /// The serving certificate now (kubelet-server-current.pem), for the kubelet server's certificate selector; null until
    /// one is issued. <see cref="KubeletCertificateManager.Rotated"/> of <see cref="ServingManager"/> tells of each new one.
    /// </summary>
    public RotatingCertificate? Serving => ServingManager?.Current ?? _initialServing;

    internal static NodeCertificates Create(Kubeconfig kubeconfig, KubeletConfiguration configuration, NodeAgentOptions options, NodeAgentRequest request,
        IKubeletLog log)
    {
        var client = ApiRequester.LoadClientCertificate(kubeconfig) is { } certificate ? new RotatingCertificate(certificate) : null;
        RotatingCertificate? serving = null;
        if (configuration.ServerTlsBootstrap)
        {
            var path = new KubeletCertificateStore(request.CertificateDirectory, "kubelet-server").CurrentPath;
            try
            {
                if (File.Exists(path))
                {
                    var pem = BoundedFile.ReadCredentialText(path);
                    serving = new RotatingCertificate(ApiRequester.CertificateWithKey(pem, pem));
                }
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
            {
                log.Warning($"The serving certificate {path} cannot be used ({e.Message}); requesting a new one.");
            }
        }
        return new NodeCertificates(client, serving, configuration, options, request);
    }

    internal void CreateManagers(IKubernetes client, ApiIdentity identity, IKubeletLog log)
    {
        if (_configuration.RotateCertificates && Client is not null)
        {
            ClientManager = new KubeletCertificateManager(KubeletCertificateTemplate.Client(_options.NodeName), _request.CertificateDirectory, Client,
                client, identity, log) { BootstrapKubeconfigPath = _request.BootstrapKubeconfigPath };
        }
        if (_configuration.ServerTlsBootstrap)
        {
            var addresses = _options.NodeIp is { } ip && IPAddress.TryParse(ip, out var address) ? [address] : Array.Empty<IPAddress>();
            ServingManager = new KubeletCertificateManager(KubeletCertificateTemplate.Serving(_options.NodeName, [_options.NodeName], addresses),
                _request.CertificateDirectory, _initialServing, client, identity, log);
        }
    }

    /// <summary>Runs the managers the configuration asks for until cancelled; returns at once when there are none.</summary>
    public Task RunAsync(CancellationToken cancellationToken)
    {
        var managers = new[] { ClientManager, ServingManager }.OfType<KubeletCertificateManager>().ToList();
        return managers.Count == 0 ? Task.CompletedTask : Task.WhenAll(managers.Select(m => m.RunAsync(cancellationToken)));
    }

    public void Dispose()
    {
        Client?.Dispose();
        Serving?.Dispose();
    }
}
