using System.Security.Cryptography.X509Certificates;
using System.Text;
using k8s;
using KubeletPS.Core.Api;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Support;

/// <summary>KubernetesClient clients for the test API server, trusting only its CA.</summary>
internal static class TestApiClients
{
    public static (IKubernetes Client, ApiIdentity Identity) ForUser(TestApiServer server, string user, params string[] groups) =>
        ForUser(server, [], user, groups);

    /// <summary>A client with <paramref name="handlers"/> between it and the connection (the agent's: ApiClientFactory.Handlers()).</summary>
    public static (IKubernetes Client, ApiIdentity Identity) ForUser(TestApiServer server, DelegatingHandler[] handlers, string user, params string[] groups)
    {
        var certificate = server.IssueClientCertificate(user, groups);
        var configuration = new KubernetesClientConfiguration
        {
            Host = server.Url,
            SslCaCerts = new X509Certificate2Collection(server.Pki.CA.Certificate),
            ClientCertificateData = Convert.ToBase64String(Encoding.ASCII.GetBytes(certificate.CertificatePem)),
            ClientCertificateKeyData = Convert.ToBase64String(Encoding.ASCII.GetBytes(certificate.KeyPem(TestKeyEncoding.Pkcs8))),
        };
        return (new Kubernetes(configuration, handlers), new ApiIdentity(server.Url, user));
    }

    public static (IKubernetes Client, ApiIdentity Identity) ForNode(TestApiServer server, string nodeName) =>
        ForUser(server, $"system:node:{nodeName}", "system:nodes");

    public static (IKubernetes Client, ApiIdentity Identity) ForAdmin(TestApiServer server) =>
        ForUser(server, "kubernetes-admin", "system:masters");

    /// <summary>Polls until <paramref name="condition"/> holds, failing with <paramref name="what"/> after the timeout.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, int timeoutSeconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition()) return;
            await Task.Delay(50);
        }
        Assert.Fail($"Timed out after {timeoutSeconds} s waiting until {what}.");
    }

    public static Task WaitUntilAsync(Func<bool> condition, string what, int timeoutSeconds = 20) =>
        WaitUntilAsync(() => Task.FromResult(condition()), what, timeoutSeconds);
}

/// <summary>A runtime whose health the test sets (the seam the CRI client fills in production).</summary>
internal sealed class SettableRuntimeHealth : KubeletPS.Core.Node.IRuntimeHealthSource
{
    public KubeletPS.Core.Node.RuntimeHealth Health { get; set; } = new()
    {
        Reachable = true, RuntimeReady = true, NetworkReady = true, RuntimeName = "containerd", RuntimeVersion = "1.6.20",
    };

    public Task<KubeletPS.Core.Node.RuntimeHealth> GetHealthAsync(CancellationToken cancellationToken) => Task.FromResult(Health);
}

/// <summary>Collects engine log lines for assertions and failure messages.</summary>
internal sealed class ListLog : IKubeletLog
{
    private readonly List<string> _lines = [];
    public void Write(KubeletLogLevel level, string message) { lock (_lines) _lines.Add($"{level}: {message}"); }
    public IReadOnlyList<string> Lines { get { lock (_lines) return _lines.ToList(); } }
}
