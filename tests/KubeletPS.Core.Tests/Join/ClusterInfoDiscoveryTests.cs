using System.Text;
using System.Text.Json.Nodes;
using KubeletPS.Core.Join;
using KubeletPS.Core.Tests.Support;
using KubeletPS.Core.Tests.TestCluster;
using KubeletPS.TestCluster.Auth;
using KubeletPS.TestCluster.Pki;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Join;

/// <summary>Token discovery against the test API server's cluster-info, honest and tampered.</summary>
public sealed class ClusterInfoDiscoveryTests : IAsyncLifetime
{
    private TestApiServer _server = null!;

    public async Task InitializeAsync() => _server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static ClusterInfoDiscoveryOptions Options(TestApiServer server, string token, params string[] hashes) => new()
    {
        ApiServerEndpoint = $"127.0.0.1:{server.Port}",
        Token = BootstrapTokenString.Parse(token),
        CACertHashes = hashes,
        Timeout = TimeSpan.FromSeconds(20),
        RetryInterval = TimeSpan.FromMilliseconds(200),
    };

    private async Task WaitForSignatureAsync(string tokenId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (_server.Store.Get("configmaps", "kube-public", "cluster-info")?["data"]?["jws-kubeconfig-" + tokenId] is null)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the bootstrap signer did not sign token {tokenId}");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task A_signed_cluster_info_with_the_pinned_CA_gives_the_server_and_the_CA()
    {
        var token = _server.CreateBootstrapToken();
        var messages = new List<string>();
        // The bootstrap signer signs a new token shortly after it appears; discovery before that retries (one more GET).
        await WaitForSignatureAsync(token[..6]);

        var cluster = await new ClusterInfoDiscovery().DiscoverAsync(Options(_server, token, _server.CaCertHash), messages.Add, CancellationToken.None);

        Assert.Equal(_server.Url, cluster.Server);
        Assert.Equal(_server.CaPem.Trim(), cluster.CertificateAuthorityPem.Trim());
        Assert.Equal(_server.CaCertHash, cluster.CACertHash);
        Assert.True(cluster.CAPinned);
        Assert.Contains(messages, m => m.Contains(token[..6] + ".****", StringComparison.Ordinal));
        Assert.DoesNotContain(messages, m => m.Contains(token[7..], StringComparison.Ordinal));
        // The second request was made over TLS verified against the pinned CA: two anonymous GETs of cluster-info.
        Assert.Equal(2, _server.RequestLog.Entries.Count(e => e.Path.EndsWith("/configmaps/cluster-info", StringComparison.Ordinal) && e.User == "system:anonymous" && e.StatusCode == 200));
    }

    [Fact]
    public async Task A_wrong_CA_hash_is_refused_with_kubeadms_message()
    {
        var token = _server.CreateBootstrapToken();
        var wrong = "sha256:" + new string('a', 64);

        var error = await Assert.ThrowsAsync<JoinException>(() => new ClusterInfoDiscovery().DiscoverAsync(Options(_server, token, wrong), null, CancellationToken.None));

        Assert.Equal(JoinProblem.CACertHashMismatch, error.Problem);
        Assert.Equal($"cluster CA found in cluster-info ConfigMap is invalid: none of the public keys \"{_server.CaCertHash}\" are pinned", error.Message);
    }

    [Fact]
    public async Task A_man_in_the_middle_CA_without_the_token_fails_the_signature()
    {
        var attacker = new ClusterPki("mitm-ca");
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions { Pki = TestObjects.SharedPki, ManInTheMiddleCaPem = attacker.CA.CertificatePem });
        var token = server.CreateBootstrapToken();

        var error = await Assert.ThrowsAsync<JoinException>(() =>
            new ClusterInfoDiscovery().DiscoverAsync(Options(server, token, PublicKeyPins.Hash(attacker.CA.Certificate)), null, CancellationToken.None));

        Assert.Equal(JoinProblem.SignatureInvalid, error.Problem);
        Assert.Equal("failed to verify JWS signature of received cluster info object, can't trust this API Server", error.Message);
    }

    [Fact]
    public async Task A_man_in_the_middle_who_has_the_token_is_stopped_by_the_CA_pin()
    {
        var attacker = new ClusterPki("mitm-ca");
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions
        {
            Pki = TestObjects.SharedPki, ManInTheMiddleCaPem = attacker.CA.CertificatePem, ManInTheMiddleKnowsTokens = true,
        });
        var token = server.CreateBootstrapToken();

        var error = await Assert.ThrowsAsync<JoinException>(() =>
            new ClusterInfoDiscovery().DiscoverAsync(Options(server, token, server.CaCertHash), null, CancellationToken.None));

        Assert.Equal(JoinProblem.CACertHashMismatch, error.Problem);
        Assert.Contains(PublicKeyPins.Hash(attacker.CA.Certificate), error.Message);
    }

    [Fact]
    public async Task Pinning_the_attackers_CA_still_fails_on_the_verified_second_request()
    {
        // The pin matches the forged CA (say the hash came from the same attacker): the real server's certificate does not chain to it.
        var attacker = new ClusterPki("mitm-ca");
        await using var server = await TestApiServer.StartAsync(new TestApiServerOptions
        {
            Pki = TestObjects.SharedPki, ManInTheMiddleCaPem = attacker.CA.CertificatePem, ManInTheMiddleKnowsTokens = true,
        });
        var token = server.CreateBootstrapToken();

        var error = await Assert.ThrowsAsync<JoinException>(() =>
            new ClusterInfoDiscovery().DiscoverAsync(Options(server, token, PublicKeyPins.Hash(attacker.CA.Certificate)), null, CancellationToken.None));

        Assert.Equal(JoinProblem.ServerNotTrusted, error.Problem);
        Assert.Contains("not trusted", error.Message);
    }

    [Fact]
    public async Task A_token_without_the_signing_usage_has_no_signature_and_is_refused()
    {
        var (id, secret) = BootstrapTokenAuthenticator.NewToken();
        var tokenSecret = BootstrapTokenAuthenticator.TokenSecret(id, secret, DateTimeOffset.UtcNow.AddHours(1));
        tokenSecret["data"]!["usage-bootstrap-signing"] = Convert.ToBase64String(Encoding.UTF8.GetBytes("false"));
        _server.Store.Create("secrets", tokenSecret);
        var options = Options(_server, $"{id}.{secret}", _server.CaCertHash) with { Timeout = TimeSpan.FromSeconds(2) };

        var error = await Assert.ThrowsAsync<JoinException>(() => new ClusterInfoDiscovery().DiscoverAsync(options, null, CancellationToken.None));

        Assert.Equal(JoinProblem.TokenNotSigned, error.Problem);
        Assert.StartsWith($"could not find a JWS signature in the cluster-info ConfigMap for token ID \"{id}\": token id \"{id}\" is invalid for this cluster or it has expired.", error.Message);
        Assert.DoesNotContain(secret, error.Message);
    }

    [Fact]
    public async Task An_unknown_token_id_and_an_expired_token_are_refused_the_same_way()
    {
        var expired = _server.CreateBootstrapToken(TimeSpan.FromSeconds(-1));
        foreach (var token in new[] { "zzzzzz.0123456789abcdef", expired })
        {
            var options = Options(_server, token, _server.CaCertHash) with { Timeout = TimeSpan.FromSeconds(1) };
            var error = await Assert.ThrowsAsync<JoinException>(() => new ClusterInfoDiscovery().DiscoverAsync(options, null, CancellationToken.None));
            Assert.Equal(JoinProblem.TokenNotSigned, error.Problem);
            Assert.Contains("is invalid for this cluster or it has expired. Use \"kubeadm token create\"", error.Message);
        }
    }

    [Fact]
    public async Task A_hash_is_required_unless_CA_verification_is_skipped_explicitly()
    {
        var token = _server.CreateBootstrapToken();
        var error = await Assert.ThrowsAsync<KubeletException>(() => new ClusterInfoDiscovery().DiscoverAsync(Options(_server, token), null, CancellationToken.None));
        Assert.Equal(KubeletErrorKind.InvalidArgument, error.Category);
        Assert.DoesNotContain(_server.RequestLog.Entries, e => e.Path.Contains("cluster-info", StringComparison.Ordinal));

        var cluster = await new ClusterInfoDiscovery().DiscoverAsync(Options(_server, token) with { UnsafeSkipCAVerification = true }, null, CancellationToken.None);
        Assert.False(cluster.CAPinned);
        Assert.Equal(_server.CaCertHash, cluster.CACertHash);
    }

    [Fact]
    public async Task The_signer_adds_and_removes_signatures_as_tokens_come_and_go()
    {
        var token = _server.CreateBootstrapToken();
        var id = token[..6];
        JsonNode? Signature() => _server.Store.Get("configmaps", "kube-public", "cluster-info")?["data"]?["jws-kubeconfig-" + id];
        await TestApiClients.WaitUntilAsync(() => Signature() is not null, "the token's signature is in cluster-info");
        var kubeconfig = (string)_server.Store.Get("configmaps", "kube-public", "cluster-info")!["data"]!["kubeconfig"]!;
        Assert.True(DetachedJws.IsValid((string)Signature()!, kubeconfig, id, token[7..]));
        Assert.DoesNotContain("token", kubeconfig);
        Assert.DoesNotContain("client-key", kubeconfig);

        _server.Store.Delete("secrets", "kube-system", "bootstrap-token-" + id);
        await TestApiClients.WaitUntilAsync(() => Signature() is null, "the deleted token's signature is removed");
    }

    [Fact]
    public async Task Anonymous_may_get_cluster_info_and_nothing_else()
    {
        _server.CreateBootstrapToken();
        using var http = _server.CreateHttpClient();
        async Task<int> Status(string path) => (int)(await http.GetAsync(path)).StatusCode;

        Assert.Equal(200, await Status("/api/v1/namespaces/kube-public/configmaps/cluster-info"));
        Assert.Equal(403, await Status("/api/v1/namespaces/kube-public/configmaps"));
        Assert.Equal(403, await Status("/api/v1/namespaces/kube-public/configmaps/kube-root-ca.crt"));
        Assert.Equal(403, await Status("/api/v1/namespaces/kube-system/configmaps/cluster-info"));
        Assert.Equal(403, await Status("/api/v1/namespaces/kube-system/configmaps/kubelet-config"));
        Assert.Equal(403, await Status("/api/v1/namespaces/kube-system/secrets"));
        Assert.Equal(403, await Status("/api/v1/watch/namespaces/kube-public/configmaps?fieldSelector=metadata.name%3Dcluster-info"));
        Assert.Equal(403, await Status("/api/v1/nodes"));
        using var put = new HttpRequestMessage(HttpMethod.Put, "/api/v1/namespaces/kube-public/configmaps/cluster-info")
        {
            Content = new StringContent("{\"metadata\":{\"name\":\"cluster-info\"},\"data\":{}}", Encoding.UTF8, "application/json"),
        };
        Assert.Equal(403, (int)(await http.SendAsync(put)).StatusCode);
    }
}
