using System.Text.Json.Nodes;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Certificates.Bootstrap;
using KubeletPS.Core.Tests.Support;
using KubeletPS.Core.Tests.TestCluster;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>What the agent does at start with -BootstrapKubeconfigPath (kubelet's LoadClientCert); no runtime is contacted.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class AgentBootstrapTests
{
    /// <summary>The test API server (the shared PKI, <paramref name="clock"/>, CSR approval as asked) and a folder for node <paramref name="node"/>.</summary>
    private static Task<ApiAgentHarness> StartAsync(string node, TimeProvider? clock = null, bool approveCsrs = true) =>
        ApiAgentHarness.StartAsync(node, "kubeletps-agent-bootstrap-", new TestApiServerOptions
        {
            Pki = TestObjects.SharedPki, TimeProvider = clock ?? TimeProvider.System, ApproveNodeClientCertificateRequests = approveCsrs,
        });

    /// <summary>What the agent starts from: config.yaml and the bootstrap kubeconfig's paths (no runtime is contacted).</summary>
    private static NodeAgentRequest Request(ApiAgentHarness h, bool withBootstrap = true)
    {
        File.WriteAllText(h.ConfigPath, ApiAgentHarness.BaseConfig);
        return h.NodeRequest("unix://" + Path.Combine(h.Directory, "none.sock"), bootstrap: withBootstrap) with { CertificateDirectory = h.CertificateDirectory };
    }

    [Fact]
    public async Task An_expired_client_certificate_at_start_is_replaced_through_the_bootstrap_kubeconfig_and_the_node_registers()
    {
        await using var h = await StartAsync("start-1");
        var server = h.Server;
        var expired = server.Pki.Issue(new CertificateSpec("system:node:start-1")
        {
            Organizations = ["system:nodes"], NotBefore = DateTimeOffset.UtcNow.AddDays(-2), NotAfter = DateTimeOffset.UtcNow.AddDays(-1),
        });
        KubeletPS.TestCluster.Server.Kubeconfig.WritePrivateFile(h.KubeconfigPath,
            KubeletPS.TestCluster.Server.Kubeconfig.Render(server.Url, server.CaPem, "system:node:start-1", expired.CertificatePem, expired.KeyPem()));
        server.WriteBootstrapKubeconfig(h.BootstrapKubeconfigPath, server.CreateBootstrapToken());

        await using var context = await NodeAgentContext.CreateAsync(Request(h), h.Log, CancellationToken.None);

        Assert.Contains(h.Log.Lines, l => l.Contains("TLS bootstrap because part of the existing client certificate", StringComparison.Ordinal) && l.Contains("is expired", StringComparison.Ordinal));
        Assert.NotEqual(expired.Certificate.SerialNumber, context.Certificates.Client!.Current.SerialNumber);
        Assert.True(context.Certificates.Client.Current.NotAfter > DateTime.UtcNow.AddDays(300));
        var outcome = await context.RegisterAsync(TimeSpan.FromSeconds(30), null, h.Log, CancellationToken.None);
        Assert.True(outcome.Created);
        Assert.Contains(server.RequestLog.Entries, e => e.User == "system:node:start-1" && e.ClientCertificateSerial == context.Certificates.Client.Current.SerialNumber);
        Assert.DoesNotContain("PRIVATE KEY", string.Join("\n", h.Log.Lines));
    }

    [Fact]
    public async Task Without_a_bootstrap_kubeconfig_a_missing_kubelet_conf_keeps_its_clear_error()
    {
        await using var h = await StartAsync("start-2");

        var error = await Assert.ThrowsAsync<KubeletConfigException>(() => NodeAgentContext.CreateAsync(Request(h, withBootstrap: false), h.Log, CancellationToken.None));

        Assert.Equal(KubeletErrorKind.NotFound, error.Category);
        Assert.Equal(h.KubeconfigPath, error.Path);
    }

    [Fact]
    public async Task An_expired_bootstrap_token_at_start_fails_with_401_saying_the_token_is_invalid_or_expired()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var h = await StartAsync("start-3", clock);
        var token = h.Server.CreateBootstrapToken(TimeSpan.FromMinutes(1));
        h.Server.WriteBootstrapKubeconfig(h.BootstrapKubeconfigPath, token);
        clock.Advance(TimeSpan.FromMinutes(2));

        var error = await Assert.ThrowsAsync<CertificateBootstrapException>(() => NodeAgentContext.CreateAsync(Request(h), h.Log, CancellationToken.None));

        Assert.Equal(CertificateBootstrapProblem.Unauthorized, error.Problem);
        Assert.Contains("401 Unauthorized", error.Message);
        Assert.Contains("bootstrap token may have expired or been deleted", error.Message);
        Assert.Contains($"bootstrap token \"{token[..6]}\"", error.Message);
        Assert.DoesNotContain(token[7..], error.ToString() + string.Join("\n", h.Log.Lines));
        Assert.False(File.Exists(h.KubeconfigPath));
    }

    [Fact]
    public async Task A_denied_csr_at_start_fails_naming_the_csr()
    {
        await using var h = await StartAsync("start-4", approveCsrs: false);
        var server = h.Server;
        server.WriteBootstrapKubeconfig(h.BootstrapKubeconfigPath, server.CreateBootstrapToken());
        var denier = Task.Run(async () =>
        {
            await TestApiClients.WaitUntilAsync(() => server.Store.List("certificatesigningrequests").Count > 0, "the CSR to be created");
            var name = server.Store.List("certificatesigningrequests")[0]["metadata"]!["name"]!.GetValue<string>();
            server.Store.Update("certificatesigningrequests", null, name, csr =>
                csr["status"] = new JsonObject { ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Denied", ["status"] = "True", ["reason"] = "NotOurs", ["message"] = "unknown machine" }) });
            return name;
        });

        var error = await Assert.ThrowsAsync<CertificateBootstrapException>(() => NodeAgentContext.CreateAsync(Request(h), h.Log, CancellationToken.None));

        var name = await denier;
        Assert.Equal(CertificateBootstrapProblem.Denied, error.Problem);
        Assert.Equal(name, error.CsrName);
        Assert.Contains($"The certificate signing request {name} is denied", error.Message);
        Assert.Contains(h.Log.Lines, l => l.Contains($"Waiting for the certificate signing request {name} to be approved", StringComparison.Ordinal));
    }
}
