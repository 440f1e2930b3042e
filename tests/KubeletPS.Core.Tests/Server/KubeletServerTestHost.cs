using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using KubeletPS.Core.Server;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Server;

/// <summary>A kubelet server on 127.0.0.1:0 for node <see cref="NodeName"/>, its client CA the test cluster's, its API client the node's.</summary>
internal sealed class KubeletServerTestHost : IAsyncDisposable
{
    public const string NodeName = "server-node";

    private KubeletServerTestHost(TestApiServer api, KubeletServer server, string directory)
    {
        Api = api;
        Server = server;
        Directory = directory;
    }

    public TestApiServer Api { get; }
    public KubeletServer Server { get; }
    public string Directory { get; }
    public string BaseUrl => $"https://127.0.0.1:{Server.Port}";

    public static async Task<KubeletServerTestHost> StartAsync(TestApiServer api, Func<KubeletServerOptions, KubeletServerOptions>? configure = null,
        Func<KubeletServerContext, KubeletServerContext>? context = null)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("kubeletps-server-").FullName;
        var caFile = Path.Combine(directory, "ca.crt");
        File.WriteAllText(caFile, api.CaPem);
        var options = new KubeletServerOptions
        {
            NodeName = NodeName,
            Address = "127.0.0.1",
            Port = 0,
            HealthzPort = -1,
            CertificateDirectory = Path.Combine(directory, "pki"),
            ClientCaFile = caFile,
            NodeAddresses = ["127.0.0.1"],
        };
        options = configure?.Invoke(options) ?? options;
        var (client, identity) = TestApiClients.ForNode(api, NodeName);
        var serverContext = new KubeletServerContext { Options = options, Client = client, Identity = identity };
        serverContext = context?.Invoke(serverContext) ?? serverContext;
        try
        {
            var server = await KubeletServer.StartAsync(serverContext);
            return new KubeletServerTestHost(api, server, directory);
        }
        catch
        {
            System.IO.Directory.Delete(directory, true);
            throw;
        }
    }

    /// <summary>A client that presents <paramref name="certificate"/> (none: anonymous) and trusts only the server's own certificate.</summary>
    public HttpClient Client(IssuedCertificate? certificate = null, string? bearer = null)
    {
        var handler = new SocketsHttpHandler();
        var served = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(Directory, "pki", ServingCertificates.SelfSignedCertificateFile));
        handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, errors) =>
            cert is not null && cert.GetCertHashString() == served.GetCertHashString() && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == 0;
        if (certificate is not null) handler.SslOptions.ClientCertificates = [certificate.WithKey()];
        var client = new HttpClient(handler) { BaseAddress = new Uri(BaseUrl) };
        if (bearer is not null) client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        System.IO.Directory.Delete(Directory, true);
    }
}
