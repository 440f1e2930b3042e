using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using KubeletPS.TestCluster.Auth;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Storage;

namespace KubeletPS.TestCluster.Metrics;

/// <summary>
/// How metrics-server reaches a kubelet: GET https://NODE-ADDRESS:PORT/metrics/resource, the address the Node's
/// InternalIP (else its Hostname) and the port its status.daemonEndpoints.kubeletEndpoint.Port, presenting a client
/// certificate of the cluster CA in group system:masters. The kubelet's serving certificate is verified against the
/// cluster CA, unless <c>insecureTls</c> (metrics-server's --kubelet-insecure-tls, which clusters whose kubelets serve
/// self-signed certificates need: those chain to no CA).
/// </summary>
public sealed class KubeletScraper : IDisposable
{
    private readonly ObjectStore _store;
    private readonly HttpClient _http;

    public KubeletScraper(ObjectStore store, ClusterPki pki, bool insecureTls)
    {
        _store = store;
        var certificate = pki.Issue(new CertificateSpec("system:metrics-server") { Organizations = [UserInfo.Masters] });
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5), PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) };
        handler.SslOptions.ClientCertificates = [certificate.WithKey()];
        var ca = pki.CA.Certificate;
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
        {
            if (insecureTls) return certificate is not null;
            if (certificate is null) return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData())) && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == 0;
        };
        _http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
    }

    public async Task<string> ScrapeAsync(string nodeName, CancellationToken cancellationToken)
    {
        var node = _store.Get("nodes", null, nodeName) ?? throw new HttpRequestException($"node {nodeName} is gone");
        var addresses = node["status"]?["addresses"] as JsonArray ?? [];
        string? Address(string type) => addresses.FirstOrDefault(a => a?["type"]?.GetValue<string>() == type)?["address"]?.GetValue<string>();
        var host = Address("InternalIP") ?? Address("Hostname") ?? throw new HttpRequestException($"node {nodeName} has no InternalIP or Hostname address");
        var port = node["status"]?["daemonEndpoints"]?["kubeletEndpoint"]?["Port"]?.GetValue<int>() ?? 10250;
        var uri = new UriBuilder("https", host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host, port, "/metrics/resource").Uri;
        using var response = await _http.GetAsync(uri, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET {uri}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)}");
        }
        return await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
    }

    public void Dispose() => _http.Dispose();
}
