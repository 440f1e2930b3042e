using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using KubeletPS.Core.Api;
using KubeletPS.Core.Certificates;
using KubeletPS.Core.Certificates.Checks;
using KubeletPS.Core.Configuration.Clientcmd;

namespace KubeletPS.Core.Tests.Configuration.Clientcmd;

/// <summary>
/// Attacks through the files a kubeconfig names: a client key that is a FIFO (open(2) waits for a writer forever),
/// a certificate authority far larger than any bundle or linked to /dev/zero (client-go reads both unbounded), an
/// exec user whose program must never run, embedded data that is not base64, and keys that do not fit. Each must be
/// refused at once with the kubeconfig, the field and the file, and no message may carry key material.
/// </summary>
public sealed class KubeconfigFileAttackTests : IDisposable
{
    private readonly ConfigTestFiles _files = new();
    private readonly string _certificatePem;
    private readonly string _keyPem;

    public KubeconfigFileAttackTests()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=system:node:node-a, O=system:nodes", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        _certificatePem = certificate.ExportCertificatePem();
        _keyPem = key.ExportPkcs8PrivateKeyPem();
    }

    public void Dispose() => _files.Dispose();

    private string Kubeconfig(string ca, string certificate, string key, string user = "") => _files.Write("kubelet.conf", $"""
        apiVersion: v1
        kind: Config
        clusters:
        - name: c
          cluster:
            server: https://127.0.0.1:6443
            certificate-authority: {ca}
        users:
        - name: node
          user:
            client-certificate: {certificate}
            client-key: {key}
        {user}
        contexts:
        - name: x
          context: {"{"}cluster: c, user: node{"}"}
        current-context: x
        """);

    private (string Ca, string Certificate, string Key) Files() =>
        (_files.Write("pki/ca.crt", _certificatePem), _files.Write("pki/client.crt", _certificatePem), _files.Write("pki/client.key", _keyPem));

    private static void MakeFifo(string path)
    {
        File.Delete(path);
        using var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]))!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    /// <summary>Runs <paramref name="read"/>; one that has not returned after a minute has hung on the FIFO (then opened for writing to free it).</summary>
    private static async Task<Exception?> Guarded(Func<Task> read, string fifo)
    {
        var task = Task.Run(read);
        if (await Task.WhenAny(task, Task.Delay(TimeSpan.FromMinutes(1))) != task)
        {
            await using (new FileStream(fifo, FileMode.Open, FileAccess.Write)) { }
            throw new Xunit.Sdk.XunitException($"reading the kubeconfig's files blocked on the FIFO {fifo}");
        }
        try
        {
            await task;
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    private void NoKeyMaterial(string message)
    {
        var body = string.Concat(_keyPem.Split('\n').Where(l => !l.StartsWith("-----", StringComparison.Ordinal)));
        for (var i = 0; i + 16 <= body.Length; i += 8) Assert.DoesNotContain(body.Substring(i, 16), message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_key_that_is_a_fifo_is_refused_without_blocking_by_every_reader()
    {
        var (ca, certificate, key) = Files();
        MakeFifo(key);
        var path = Kubeconfig(ca, certificate, key);
        var kubeconfig = await KubeconfigLoader.LoadAsync(path);

        // The agent's start (NodeCertificates), KubernetesClient's client, Test-KubeletCertificate.
        var agent = await Guarded(() => Task.FromResult(ApiRequester.LoadClientCertificate(kubeconfig)), key);
        var client = await Guarded(() => Task.FromResult(ApiClientFactory.CreateClient(kubeconfig)), key);
        var check = await Guarded(() => NodeCertificateReader.ReadFromKubeconfigAsync(path, DateTimeOffset.UtcNow, CancellationToken.None), key);

        foreach (var e in new[] { agent, client })
        {
            var refused = Assert.IsType<KubeletConfigException>(e);
            Assert.Equal(path, refused.Path);
            Assert.Equal("client-key", refused.Field);
            Assert.Contains(key, refused.Message, StringComparison.Ordinal);
            Assert.Contains("not a regular file but a FIFO", refused.Message, StringComparison.Ordinal);
        }
        var unreadable = Assert.IsType<CertificateException>(check);
        Assert.Contains(key, unreadable.Message, StringComparison.Ordinal);
        Assert.Contains("not a regular file but a FIFO", unreadable.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certificate_authority_far_larger_than_any_bundle_is_refused_before_it_is_read()
    {
        var (_, certificate, key) = Files();
        var ca = Path.Combine(_files.Directory, "pki/huge-ca.crt");
        using (var huge = File.Create(ca)) huge.SetLength(64L * 1024 * 1024);
        var kubeconfig = await KubeconfigLoader.LoadAsync(Kubeconfig(ca, certificate, key));
        var before = GC.GetTotalAllocatedBytes(true);
        var e = Assert.Throws<KubeletConfigException>(() => ApiClientFactory.CreateConfiguration(kubeconfig));
        var allocated = GC.GetTotalAllocatedBytes(true) - before;
        Assert.True(allocated < 8L * 1024 * 1024, $"refusing the CA allocated {allocated / (1024 * 1024)} MiB");
        Assert.Equal("certificate-authority", e.Field);
        Assert.Contains("larger than the limit of 1 MiB", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_certificate_authority_linked_to_dev_zero_is_refused()
    {
        var (_, certificate, key) = Files();
        var ca = Path.Combine(_files.Directory, "pki/zero.crt");
        File.CreateSymbolicLink(ca, "/dev/zero");
        var kubeconfig = await KubeconfigLoader.LoadAsync(Kubeconfig(ca, certificate, key));
        var e = Assert.Throws<KubeletConfigException>(() => ApiClientFactory.CreateConfiguration(kubeconfig));
        Assert.Equal("certificate-authority", e.Field);
        Assert.Contains("not a regular file but a character device", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_exec_user_is_refused_and_its_program_never_runs()
    {
        var marker = Path.Combine(_files.Directory, "exec-ran");
        var path = _files.Write("exec.conf", $$"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: c
              cluster: {server: "https://127.0.0.1:6443"}
            users:
            - name: node
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1
                  command: /bin/sh
                  args: ["-c", "touch {{marker}}"]
            contexts:
            - name: x
              context: {cluster: c, user: node}
            current-context: x
            """);
        var kubeconfig = await KubeconfigLoader.LoadAsync(path);
        var e = Assert.Throws<KubeletConfigException>(() => ApiClientFactory.CreateClient(kubeconfig));
        Assert.Contains("authenticates with exec, which KubeletPS does not run", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(marker), "the exec user's program ran");
    }

    [Fact]
    public async Task Embedded_key_data_that_is_not_base64_is_refused_naming_the_field()
    {
        var path = _files.Write("bad.conf", """
            apiVersion: v1
            kind: Config
            clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
            users: [{name: node, user: {client-certificate-data: "LS0t", client-key-data: "not*base64!"}}]
            contexts: [{name: x, context: {cluster: c, user: node}}]
            current-context: x
            """);
        var e = await Assert.ThrowsAsync<KubeletConfigException>(() => KubeconfigLoader.LoadAsync(path));
        Assert.Equal(path, e.Path);
        Assert.Contains("client-key-data", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Keys_that_do_not_fit_are_refused_without_their_material_in_the_message()
    {
        var (ca, certificate, _) = Files();
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // Another key, two keys in one file with the wrong one first, and the key's own base64 cut short. (With the
        // right key first the pair is used, as Go's tls.X509KeyPair takes the first PRIVATE KEY block.)
        var variants = new Dictionary<string, string>
        {
            ["other.key"] = other.ExportPkcs8PrivateKeyPem(),
            ["two.key"] = other.ExportPkcs8PrivateKeyPem() + "\n" + _keyPem,
            ["cut.key"] = _keyPem[..(_keyPem.Length / 2)] + "\n-----END PRIVATE KEY-----\n",
        };
        foreach (var (name, pem) in variants)
        {
            var key = _files.Write($"pki/{name}", pem);
            var path = Kubeconfig(ca, certificate, key);
            var kubeconfig = await KubeconfigLoader.LoadAsync(path);
            var agent = Assert.ThrowsAny<KubeletException>(() => ApiRequester.LoadClientCertificate(kubeconfig));
            NoKeyMaterial(agent.ToString());
            var check = await Record.ExceptionAsync(() => NodeCertificateReader.ReadFromKubeconfigAsync(path, DateTimeOffset.UtcNow, CancellationToken.None));
            if (check is not null) NoKeyMaterial(check.ToString());
        }
    }
}
