using System.Text;
using k8s.Models;
using KubeletPS.Core.Configuration;
using KubeletPS.Core.Configuration.Clientcmd;
using KubeletPS.Core.Configuration.Yaml;
using KubeletPS.Core.Pods.Config;
using KubeletPS.Core.Tests.Support;
using Xunit.Abstractions;

namespace KubeletPS.Core.Tests.Configuration.Yaml;

/// <summary>
/// Attacks on every YAML reader of the engine: a "billion laughs" document (9 levels of 9 aliases, about
/// 600 bytes, 9^9 nodes once expanded), nesting 100 000 levels deep, and a file over the size limit. Each
/// must be refused with the file and a line, fast and within a few MiB.
/// </summary>
public sealed class YamlBoundsTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>What a refused file may cost; the unbounded readers went past gigabytes.</summary>
    private const long AllocationBound = 64L * 1024 * 1024;

    private readonly ConfigTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    /// <summary>Nine anchors, each a list of nine aliases of the one before: expanding "i" gives 9^9 scalars.</summary>
    internal static string Laughs(string indent = "")
    {
        var text = new StringBuilder();
        text.Append(indent).Append("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for (var c = 'b'; c <= 'i'; c++)
        {
            var previous = (char)(c - 1);
            text.Append(indent).Append(c).Append(": &").Append(c).Append(" [")
                .Append(string.Join(",", Enumerable.Repeat($"*{previous}", 9))).Append("]\n");
        }
        return text.ToString();
    }

    internal static string Deep(int depth) => new string('[', depth) + new string(']', depth);

    private T Refused<T>(Action read, out long allocated) where T : Exception => AttackCost.Refused<T>(read, AllocationBound, output, out allocated);

    private static void NamesFileAndLine(KubeletConfigException e, string path, int line)
    {
        Assert.Equal(path, e.Path);
        Assert.Equal(line, e.Line);
        Assert.StartsWith($"{path}:{line}", e.Message, StringComparison.Ordinal);
    }

    private const string PodHeader = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: laughs\n";

    [Fact]
    public void A_billion_laughs_manifest_is_refused_by_the_manifest_reader()
    {
        var path = _files.Write("laughs.yaml", PodHeader + Laughs());
        var e = Refused<KubeletConfigException>(() => ManifestReader.Read<V1Pod>(File.ReadAllText(path), path), out _);
        Assert.Contains("excessive aliasing", e.Message, StringComparison.Ordinal);
        Assert.Equal(path, e.Path);
        Assert.True(e.Line is >= 5 and <= 13, $"line {e.Line}");
    }

    [Fact]
    public void A_billion_laughs_manifest_in_the_static_pod_folder_is_reported_and_the_others_still_run()
    {
        var dir = Path.Combine(_files.Directory, "manifests");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "a-laughs.yaml"), PodHeader + Laughs());
        File.WriteAllText(Path.Combine(dir, "b-good.yaml"), PodHeader.Replace("laughs", "good") + "spec:\n  containers:\n  - name: c\n    image: busybox\n");
        var source = new StaticPodSource(dir, "node-a", TimeSpan.FromSeconds(20));
        var before = GC.GetTotalAllocatedBytes(true);
        var snapshot = source.Read();
        var allocated = GC.GetTotalAllocatedBytes(true) - before;
        Assert.True(allocated < AllocationBound, $"reading allocated {allocated / (1024 * 1024)} MiB");
        var error = Assert.Single(snapshot.Errors);
        Assert.Equal(Path.Combine(dir, "a-laughs.yaml"), error.Path);
        Assert.NotNull(error.Line);
        Assert.Contains("excessive aliasing", error.Message, StringComparison.Ordinal);
        Assert.Equal("good-node-a", Assert.Single(snapshot.Pods).Metadata.Name);
    }

    [Fact]
    public async Task A_billion_laughs_kubelet_configuration_is_refused()
    {
        var path = _files.Config(Laughs());
        var e = Refused<KubeletConfigException>(() => KubeletConfigurationFile.LoadAsync(path).GetAwaiter().GetResult(), out _);
        Assert.Contains("excessive aliasing", e.Message, StringComparison.Ordinal);
        Assert.Equal(path, e.Path);
        Assert.NotNull(e.Line);
        // The same through the loader the cmdlets and the agent use.
        var loaded = await Assert.ThrowsAsync<KubeletConfigException>(() => KubeletConfigLoader.LoadAsync(path, null, null));
        Assert.Equal(path, loaded.Path);
    }

    [Fact]
    public void A_billion_laughs_kubeconfig_is_refused()
    {
        // exec is an untyped field, read as a whole: the expansion the ratio bound is for.
        var path = _files.Write("kubelet.conf", """
            apiVersion: v1
            kind: Config
            current-context: c
            clusters:
            - name: k
              cluster:
                server: https://127.0.0.1:6443
            contexts:
            - name: c
              context:
                cluster: k
                user: u
            users:
            - name: u
              user:
                exec:

            """ + Laughs("      "));
        var e = Refused<KubeletConfigException>(() => KubeconfigLoader.LoadAsync(path).GetAwaiter().GetResult(), out _);
        Assert.Contains("excessive aliasing", e.Message, StringComparison.Ordinal);
        Assert.Equal(path, e.Path);
        Assert.True(e.Line > 16, $"line {e.Line}");
    }

    [Fact]
    public void Nesting_100000_levels_deep_is_refused_at_the_line_where_it_goes_too_deep()
    {
        var manifest = _files.Write("deep.yaml", PodHeader + "spec:\n  x: " + Deep(100_000) + "\n");
        var e = Refused<KubeletConfigException>(() => ManifestReader.Read<V1Pod>(File.ReadAllText(manifest), manifest), out _);
        NamesFileAndLine(e, manifest, 6);
        Assert.Contains("exceeded max depth of", e.Message, StringComparison.Ordinal);

        var config = _files.Config("x: " + Deep(100_000) + "\n");
        e = Refused<KubeletConfigException>(() => KubeletConfigurationFile.LoadAsync(config).GetAwaiter().GetResult(), out _);
        NamesFileAndLine(e, config, 3);

        var kubeconfig = _files.Write("deep.conf", "apiVersion: v1\nkind: Config\npreferences: " + Deep(100_000) + "\n");
        e = Refused<KubeletConfigException>(() => KubeconfigLoader.LoadAsync(kubeconfig).GetAwaiter().GetResult(), out _);
        NamesFileAndLine(e, kubeconfig, 3);
    }

    [Fact]
    public void A_file_over_the_size_limit_is_refused_before_it_is_read()
    {
        var padding = "# " + new string('x', 1022) + "\n";
        var manifest = _files.Write("big.yaml", PodHeader + string.Concat(Enumerable.Repeat(padding, 3 * 1024 + 1)));
        var e = Refused<KubeletConfigException>(() => new StaticPodSource(_files.Directory, "n", TimeSpan.FromSeconds(20)).ReadPod(manifest), out var allocated);
        Assert.Equal(manifest, e.Path);
        Assert.Contains("larger than the limit of 3 MiB", e.Message, StringComparison.Ordinal);
        Assert.True(allocated < 8L * 1024 * 1024, $"reading allocated {allocated} bytes");

        var config = _files.Config(string.Concat(Enumerable.Repeat(padding, 1024 + 1)));
        e = Refused<KubeletConfigException>(() => KubeletConfigurationFile.LoadAsync(config).GetAwaiter().GetResult(), out _);
        Assert.Equal(config, e.Path);
        Assert.Contains("larger than the limit of 1 MiB", e.Message, StringComparison.Ordinal);

        var kubeconfig = _files.Write("big.conf", string.Concat(Enumerable.Repeat(padding, 1024 + 1)));
        e = Refused<KubeletConfigException>(() => KubeconfigLoader.LoadAsync(kubeconfig).GetAwaiter().GetResult(), out _);
        Assert.Equal(kubeconfig, e.Path);
    }

    [Fact]
    public void Nesting_just_under_the_limit_fits_in_a_thread_pool_threads_stack()
    {
        // 1.5 MiB: .NET's default stack for a secondary thread on Linux, where the static pod source reads.
        var manifest = _files.Write("deep.yaml", PodHeader + "spec:\n  x: " + Deep(YamlBounds.DefaultMaxDepth - 2) + "\n");
        Exception? outcome = null;
        var thread = new Thread(() =>
        {
            try { ManifestReader.Read<V1Pod>(File.ReadAllText(manifest), manifest); }
            catch (Exception e) { outcome = e; }
        }, maxStackSize: 1536 * 1024);
        thread.Start();
        thread.Join();
        // System.Text.Json refuses it (its reader stops at 64 levels): an error naming the file, not a crash.
        var e = Assert.IsType<KubeletConfigException>(outcome);
        Assert.Equal(manifest, e.Path);
    }

    [Fact]
    public void Aliases_a_real_file_uses_are_still_read()
    {
        // A shared env list referenced twice: far inside go-yaml's ratio.
        var path = _files.Write("shared.yaml", """
            apiVersion: v1
            kind: Pod
            metadata:
              name: shared
              labels: &labels
                app: shared
              annotations: *labels
            spec:
              containers:
              - name: a
                image: busybox
                env: &env
                - name: A
                  value: "1"
              - name: b
                image: busybox
                env: *env
            """);
        var (pod, unknown) = ManifestReader.Read<V1Pod>(File.ReadAllText(path), path);
        Assert.Empty(unknown);
        Assert.Equal("1", pod.Spec.Containers[1].Env[0].Value);
        Assert.Equal("shared", pod.Metadata.Annotations["app"]);
    }
}
