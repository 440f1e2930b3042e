using System.Text;
using System.Text.Json;
using KubeletPS.Core.Configuration.Clientcmd;
using KubeletPS.TestCluster.Pki;

namespace KubeletPS.Core.Tests.Configuration.Clientcmd;

public sealed class KubeconfigTests : IDisposable
{
    private readonly ConfigTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static string B64(string text) => Convert.ToBase64String(Encoding.ASCII.GetBytes(text));

    [Fact]
    public async Task Kubeadm_kubelet_conf_gives_server_embedded_ca_and_client_files()
    {
        var k = await KubeconfigLoader.LoadAsync(ConfigTestFiles.Data("kubeadm/kubelet.conf"));
        Assert.Equal("system:node:node-1@kubernetes", k.ContextName);
        Assert.Equal("https://192.168.56.10:6443", k.Server);
        Assert.Equal("embedded", k.CertificateAuthoritySource);
        Assert.Equal("/var/lib/kubelet/pki/kubelet-client-current.pem", k.ClientCertificateSource);
        Assert.Equal("/var/lib/kubelet/pki/kubelet-client-current.pem", k.ClientKeySource);
        Assert.False(k.HasToken);
    }

    [Fact]
    public async Task Relative_paths_resolve_against_the_kubeconfig_folder_as_kubectl_does()
    {
        var path = ConfigTestFiles.Data("relative/kubelet.conf");
        var folder = Path.GetDirectoryName(path)!;
        var k = await KubeconfigLoader.LoadAsync(path, root: "/mnt/node");
        Assert.Equal(Path.Combine(folder, "pki/ca.crt"), k.CertificateAuthorityFile);
        Assert.Equal(Path.Combine(folder, "pki/client.crt"), k.ClientCertificateFile);
        Assert.Equal(Path.Combine(folder, "pki/client.key"), k.ClientKeyFile);

        var kubeadm = await KubeconfigLoader.LoadAsync(ConfigTestFiles.Data("kubeadm/kubelet.conf"), root: "/mnt/node");
        Assert.Equal("/mnt/node/var/lib/kubelet/pki/kubelet-client-current.pem", kubeadm.ClientKeyFile);
    }

    [Fact]
    public async Task Missing_current_context_is_an_error_naming_the_file()
    {
        var path = ConfigTestFiles.Data("broken/no-current-context.conf");
        var e = await Assert.ThrowsAsync<KubeletConfigException>(() => KubeconfigLoader.LoadAsync(path));
        Assert.Equal(path, e.Path);
        Assert.Contains("no current-context", e.Message);
        // Naming the context works.
        var k = await KubeconfigLoader.LoadAsync(path, context: "node@kubernetes");
        Assert.Equal("node", k.UserName);
    }

    [Fact]
    public void Missing_context_cluster_and_user_are_named_with_their_line()
    {
        const string head = "apiVersion: v1\nkind: Config\n";
        var path = Path.Combine(_files.Directory, "k.conf");
        var e = Assert.Throws<KubeletConfigException>(() => KubeconfigLoader.Parse(
            head + "current-context: nope\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n", path, null, null, out _));
        Assert.Contains("context \"nope\" is not in the kubeconfig (contexts: \"a\")", e.Message);
        Assert.Equal(3, e.Line);

        e = Assert.Throws<KubeletConfigException>(() => KubeconfigLoader.Parse(
            head + "current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: c\n    user: u\n", path, null, null, out _));
        Assert.Contains("cluster \"c\" named by context \"a\" is not in the kubeconfig", e.Message);
        Assert.Equal(7, e.Line);

        e = Assert.Throws<KubeletConfigException>(() => KubeconfigLoader.Parse(
            head + "current-context: a\nclusters:\n- name: c\n  cluster: {server: https://x}\ncontexts:\n- name: a\n  context:\n    cluster: c\n    user: u\n", path, null, null, out _));
        Assert.Contains("user \"u\" named by context \"a\" is not in the kubeconfig (users: none)", e.Message);
        Assert.Equal(11, e.Line);
    }

    [Fact]
    public void A_kubelet_config_passed_as_kubeconfig_is_a_wrong_kind()
    {
        var path = ConfigTestFiles.Data("kubeadm/config.yaml");
        var e = Assert.Throws<KubeletConfigException>(() => KubeconfigLoader.Parse(File.ReadAllText(path), path, null, null, out _));
        Assert.Equal("kind", e.Field);
        Assert.Contains("expected \"Config\"", e.Message);
    }

    [Fact]
    public void Key_material_never_appears_in_messages_output_or_ToString()
    {
        const string secretKey = "-----BEGIN EC PRIVATE KEY-----\nSECRETSECRETSECRET\n-----END EC PRIVATE KEY-----\n";
        const string token = "tok-SECRETSECRETSECRET";
        var path = _files.Write("k.conf", $$"""
            apiVersion: v1
            kind: Config
            current-context: a
            clusters:
            - name: c
              cluster: {server: https://127.0.0.1:6443}
            contexts:
            - name: a
              context: {cluster: c, user: u}
            users:
            - name: u
              user:
                client-certificate-data: {{B64("cert")}}
                client-key-data: {{B64(secretKey)}}
                token: {{token}}
            """);
        var k = KubeconfigLoader.Parse(File.ReadAllText(path), path, null, null, out _);
        Assert.Equal("embedded", k.ClientKeySource);
        Assert.Equal("embedded", k.TokenSource);
        var visible = k.ToString() + JsonSerializer.Serialize(k) + string.Join("", typeof(Kubeconfig).GetProperties().Select(p => p.GetValue(k) is byte[] b ? Encoding.ASCII.GetString(b) : p.GetValue(k)?.ToString()));
        Assert.DoesNotContain("SECRET", visible);

        // A bad key is reported without echoing it.
        var bad = File.ReadAllText(path).Replace($"client-key-data: {B64(secretKey)}", "client-key-data: SECRET!!notbase64");
        var e = Assert.Throws<KubeletConfigException>(() => KubeconfigLoader.Parse(bad, path, null, null, out _));
        Assert.DoesNotContain("SECRET", e.Message);
        Assert.Contains("users[0].user.client-key-data", e.Message);
    }

    [Fact]
    public void Api_client_factory_trusts_the_kubeconfig_ca_and_uses_the_client_certificate()
    {
        var pki = new ClusterPki();
        var node = pki.IssueNode("node-1");
        var certFile = _files.Write("pki/client.crt", node.CertificatePem);
        _files.Write("pki/client.key", node.KeyPem());
        var path = _files.Write("kubelet.conf", $$"""
            apiVersion: v1
            kind: Config
            current-context: a
            clusters:
            - name: c
              cluster:
                server: https://127.0.0.1:6443
                certificate-authority-data: {{B64(pki.CA.CertificatePem)}}
            contexts:
            - name: a
              context: {cluster: c, user: u, namespace: kube-system}
            users:
            - name: u
              user:
                client-certificate: pki/client.crt
                client-key: pki/client.key
            """);
        var k = KubeconfigLoader.Parse(File.ReadAllText(path), path, null, null, out _);
        var configuration = ApiClientFactory.CreateConfiguration(k);
        Assert.Equal("https://127.0.0.1:6443", configuration.Host);
        Assert.False(configuration.SkipTlsVerify);
        Assert.Equal(pki.CA.Certificate.Thumbprint, Assert.Single(configuration.SslCaCerts!).Thumbprint);
        // The file is read here (bounded, regular files only) and handed over as data: KubernetesClient would read a FIFO or /dev/zero forever.
        Assert.Equal(File.ReadAllText(certFile), Encoding.UTF8.GetString(Convert.FromBase64String(configuration.ClientCertificateData!)));
        Assert.Equal("kube-system", configuration.Namespace);
        using var client = ApiClientFactory.CreateClient(k);
        Assert.Equal(new Uri("https://127.0.0.1:6443"), client.BaseUri);
    }

    [Fact]
    public void Api_client_factory_reports_a_missing_client_key_file()
    {
        var k = KubeconfigLoader.Parse(File.ReadAllText(ConfigTestFiles.Data("relative/kubelet.conf")), ConfigTestFiles.Data("relative/kubelet.conf"), null, "/nonexistent-root", out _);
        var e = Assert.Throws<KubeletConfigException>(() => ApiClientFactory.CreateConfiguration(k));
        Assert.Equal(KubeletErrorKind.NotFound, e.Category);
    }
}
