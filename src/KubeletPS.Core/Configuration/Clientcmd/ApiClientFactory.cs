using k8s;
using KubeletPS.Core.Api;
using KubeletPS.Core.Certificates.Rotation;

namespace KubeletPS.Core.Configuration.Clientcmd;

/// <summary>
/// Builds KubernetesClient's configuration and client from a resolved <see cref="Kubeconfig"/>,
/// so every engine part talks to the API server the way kubelet.conf says: the server is
/// trusted through the kubeconfig's CA (never skipped unless the kubeconfig itself says
/// insecure-skip-tls-verify), and the node authenticates with its client certificate or token.
/// </summary>
public static class ApiClientFactory
{
    public static KubernetesClientConfiguration CreateConfiguration(Kubeconfig kubeconfig) => CreateConfiguration(kubeconfig, withClientCertificate: true);

    private static KubernetesClientConfiguration CreateConfiguration(Kubeconfig kubeconfig, bool withClientCertificate)
    {
        ArgumentNullException.ThrowIfNull(kubeconfig);
        if (kubeconfig.ExternalAuthentication is { } external && kubeconfig.ClientKeySource is null && !kubeconfig.HasToken)
        {
            throw new KubeletConfigException($"user \"{kubeconfig.UserName}\" authenticates with {external}, which KubeletPS does not run; use a client certificate or a token.",
                kubeconfig.Path, category: KubeletErrorKind.InvalidArgument);
        }
        var configuration = new KubernetesClientConfiguration
        {
            Host = kubeconfig.Server,
            Namespace = string.IsNullOrEmpty(kubeconfig.Namespace) ? null : kubeconfig.Namespace,
            SkipTlsVerify = kubeconfig.InsecureSkipTlsVerify,
            TlsServerName = string.IsNullOrEmpty(kubeconfig.TlsServerName) ? null : kubeconfig.TlsServerName,
        };
        if (!kubeconfig.InsecureSkipTlsVerify)
        {
            // One reading of the CA for both clients: no CA named means the system's trust store decides, as with client-go.
            configuration.SslCaCerts = ApiRequester.LoadCertificateAuthority(kubeconfig);
        }
        // Without: the rotating certificate is presented instead (CreateClient with a RotatingCertificate).
        if (withClientCertificate) ApplyClientCertificate(configuration, kubeconfig);
        if (!string.IsNullOrEmpty(kubeconfig.Token))
        {
            configuration.AccessToken = kubeconfig.Token;
        }
        else if (kubeconfig.TokenFile is { } tokenFile)
        {
            RequireFile(tokenFile, "token", kubeconfig);
            configuration.AccessToken = ApiRequester.ReadFile(tokenFile, "token", "tokenFile", kubeconfig).Trim();
        }
        return configuration;
    }

    public static Kubernetes CreateClient(Kubeconfig kubeconfig) => new(CreateConfiguration(kubeconfig), Handlers());

    /// <summary>What every client of the agent's has between KubernetesClient and the connection, outermost first.</summary>
    public static DelegatingHandler[] Handlers() =>
        [new QuantityExponentHandler(), new ResponseBodyLimitHandler(ResponseBodyLimitHandler.DefaultMaxBytes), new Metrics.RestClientMetricsHandler()];

    /// <summary>
    /// A client that presents <paramref name="certificate"/>'s current certificate on each new connection (not the
    /// kubeconfig's files, read once) and whose connections <see cref="RotatingCertificate.Swap"/> closes: the
    /// agent's client, which lives across certificate rotations.
    /// </summary>
    public static Kubernetes CreateClient(Kubeconfig kubeconfig, RotatingCertificate certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var configuration = CreateConfiguration(kubeconfig, withClientCertificate: false);
        configuration.FirstMessageHandlerSetup = handler =>
        {
            handler.SslOptions.LocalCertificateSelectionCallback = certificate.Select;
            handler.ConnectCallback = certificate.Connections.ConnectAsync;
        };
        return new Kubernetes(configuration, Handlers());
    }

    private static void ApplyClientCertificate(KubernetesClientConfiguration configuration, Kubeconfig kubeconfig)
    {
        if (kubeconfig.ClientCertificateData is { } certificate)
        {
            configuration.ClientCertificateData = Convert.ToBase64String(certificate);
        }
        else if (kubeconfig.ClientCertificateFile is { } certificateFile)
        {
            // Read here, bounded and regular files only, rather than by KubernetesClient (which reads a FIFO or /dev/zero forever).
            RequireFile(certificateFile, "client certificate", kubeconfig);
            configuration.ClientCertificateData = Base64(ApiRequester.ReadFile(certificateFile, "client certificate", "client-certificate", kubeconfig));
        }
        if (kubeconfig.ClientKeyData is { } key)
        {
            configuration.ClientCertificateKeyData = Convert.ToBase64String(key);
        }
        else if (kubeconfig.ClientKeyFile is { } keyFile)
        {
            RequireFile(keyFile, "client key", kubeconfig);
            configuration.ClientCertificateKeyData = Base64(ApiRequester.ReadFile(keyFile, "client key", "client-key", kubeconfig));
        }
    }

    private static string Base64(string pem) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(pem));

    private static void RequireFile(string file, string what, Kubeconfig kubeconfig)
    {
        if (!File.Exists(file))
        {
            throw new KubeletConfigException($"the {what} file '{file}' named by user \"{kubeconfig.UserName}\" does not exist.",
                kubeconfig.Path, category: KubeletErrorKind.NotFound);
        }
    }
}
