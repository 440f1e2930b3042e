using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Tests.Configuration;

public sealed class KubeletConfigLoaderTests : IDisposable
{
    private readonly ConfigTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private void WriteNodeImage()
    {
        _files.Write("var/lib/kubelet/config.yaml", File.ReadAllText(ConfigTestFiles.Data("kubeadm/config.yaml")));
        _files.Write("etc/kubernetes/kubelet.conf", File.ReadAllText(ConfigTestFiles.Data("kubeadm/kubelet.conf")));
    }

    [Fact]
    public async Task Root_reads_the_default_files_of_a_mounted_image()
    {
        WriteNodeImage();
        var loaded = await KubeletConfigLoader.LoadAsync(null, null, _files.Directory);
        Assert.Equal(Path.Combine(_files.Directory, "var/lib/kubelet/config.yaml"), loaded.ConfigPath);
        Assert.Equal(Path.Combine(_files.Directory, "etc/kubernetes/kubelet.conf"), loaded.KubeconfigPath);
        Assert.Equal(Path.Combine(_files.Directory, "etc/kubernetes/manifests"), loaded.Configuration.StaticPodPath);
        Assert.Equal(Path.Combine(_files.Directory, "var/lib/kubelet/pki/kubelet-client-current.pem"), loaded.Kubeconfig!.ClientKeySource);
        Assert.Empty(loaded.Warnings);
    }

    [Fact]
    public async Task Missing_default_files_are_errors_naming_the_path()
    {
        var e = await Assert.ThrowsAsync<KubeletConfigException>(() => KubeletConfigLoader.LoadAsync(null, null, _files.Directory));
        Assert.Equal(KubeletErrorKind.NotFound, e.Category);
        Assert.Equal(Path.Combine(_files.Directory, "var/lib/kubelet/config.yaml"), e.Path);
        Assert.Contains(e.Path!, e.Message);
    }

    [Fact]
    public async Task With_only_one_path_given_the_other_default_may_be_missing()
    {
        var onlyConfig = await KubeletConfigLoader.LoadAsync(ConfigTestFiles.Data("kubeadm/config.yaml"), null, _files.Directory);
        Assert.Null(onlyConfig.Kubeconfig);
        Assert.Null(onlyConfig.KubeconfigPath);

        var onlyKubeconfig = await KubeletConfigLoader.LoadAsync(null, ConfigTestFiles.Data("kubeadm/kubelet.conf"), _files.Directory);
        Assert.Null(onlyKubeconfig.ConfigPath);
        Assert.Equal(TimeSpan.FromMinutes(1), onlyKubeconfig.Configuration.SyncFrequency);
        Assert.Equal(Path.Combine(_files.Directory, "etc/resolv.conf"), onlyKubeconfig.Configuration.ResolvConf);
        Assert.Equal("https://192.168.56.10:6443", onlyKubeconfig.Kubeconfig!.Server);
    }

    [Fact]
    public async Task A_named_file_that_is_missing_is_an_error()
    {
        var missing = Path.Combine(_files.Directory, "nope.yaml");
        var e = await Assert.ThrowsAsync<KubeletConfigException>(() => KubeletConfigLoader.LoadAsync(missing, null, null));
        Assert.Equal(missing, e.Path);
        Assert.Equal(KubeletErrorKind.NotFound, e.Category);
    }

    [Fact]
    public async Task Warnings_go_to_the_log_and_the_result()
    {
        var log = new ListLog();
        var loaded = await KubeletConfigLoader.LoadAsync(ConfigTestFiles.Data("broken/unknown-field.yaml"), ConfigTestFiles.Data("kubeadm/kubelet.conf"), null, log: log);
        Assert.Equal(2, loaded.UnknownFields.Count);
        Assert.Equal(2, log.Lines.Count(l => l.Level == KubeletLogLevel.Warning));
    }

    private sealed class ListLog : IKubeletLog
    {
        public List<(KubeletLogLevel Level, string Message)> Lines { get; } = [];
        public void Write(KubeletLogLevel level, string message) => Lines.Add((level, message));
    }
}
