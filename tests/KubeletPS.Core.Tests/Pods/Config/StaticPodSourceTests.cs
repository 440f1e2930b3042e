using KubeletPS.Core.Pods.Config;

namespace KubeletPS.Core.Tests.Pods.Config;

public sealed class StaticPodSourceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kubeletps-static-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Web = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
          labels:
            app: web
        spec:
          containers:
          - name: httpd
            image: kubeletps.local/busybox:latest
            command: ["httpd", "-f", "-p", "8080"]
            ports:
            - containerPort: 8080
            resources:
              limits:
                cpu: 1
                memory: 64Mi
            readinessProbe:
              tcpSocket:
                port: 8080
        """;

    private StaticPodSource Source() => new(_dir, "Node-A", TimeSpan.FromSeconds(20));

    [Fact]
    public void A_manifest_becomes_a_pod_defaulted_as_kubelet_does()
    {
        File.WriteAllText(Path.Combine(_dir, "web.yaml"), Web);
        var snapshot = Source().Read();
        Assert.Empty(snapshot.Errors);
        var pod = Assert.Single(snapshot.Pods);
        Assert.Equal("web-node-a", pod.Metadata.Name);
        Assert.Equal("default", pod.Metadata.NamespaceProperty);
        Assert.Equal("Node-A", pod.Spec.NodeName);
        Assert.Equal(32, pod.Metadata.Uid.Length);
        Assert.Equal(pod.Metadata.Uid, pod.Metadata.Annotations["kubernetes.io/config.hash"]);
        Assert.Equal("file", pod.Metadata.Annotations["kubernetes.io/config.source"]);
        Assert.Equal("Always", pod.Spec.RestartPolicy);
        Assert.Equal(30, pod.Spec.TerminationGracePeriodSeconds);
        var container = pod.Spec.Containers[0];
        Assert.Equal("Always", container.ImagePullPolicy); // :latest
        Assert.Equal(1m, container.Resources.Limits["cpu"].ToDecimal());
        Assert.Equal(3, container.ReadinessProbe.FailureThreshold);
        Assert.Equal(10, container.ReadinessProbe.PeriodSeconds);
        Assert.Contains(pod.Spec.Tolerations, t => t.OperatorProperty == "Exists" && t.Effect == "NoExecute");
    }

    [Fact]
    public void Editing_a_manifest_changes_the_pod_uid_so_the_pod_is_replaced()
    {
        var file = Path.Combine(_dir, "web.yaml");
        File.WriteAllText(file, Web);
        var before = Source().Read().Pods[0].Metadata.Uid;
        File.WriteAllText(file, Web.Replace("8080", "8081"));
        var after = Source().Read().Pods[0].Metadata.Uid;
        Assert.NotEqual(before, after);
        Assert.Equal(after, Source().Read().Pods[0].Metadata.Uid);
    }

    [Fact]
    public void Bad_manifests_are_reported_with_file_and_line_and_do_not_stop_the_others()
    {
        File.WriteAllText(Path.Combine(_dir, "a-good.yaml"), Web);
        File.WriteAllText(Path.Combine(_dir, "b-broken.yaml"), "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n spec: [\n");
        File.WriteAllText(Path.Combine(_dir, "c-noname.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {}\nspec:\n  containers:\n  - name: c\n    image: busybox\n");
        File.WriteAllText(Path.Combine(_dir, "d-duplicate.yaml"), Web);
        File.WriteAllText(Path.Combine(_dir, "e-unknown.yaml"), Web.Replace("    command:", "    comand: [\"x\"]\n    command:"));
        File.WriteAllText(Path.Combine(_dir, ".hidden.yaml"), "not: a pod");
        var snapshot = Source().Read();
        Assert.Equal("web-node-a", Assert.Single(snapshot.Pods).Metadata.Name);
        Assert.Equal(4, snapshot.Errors.Count);
        var broken = snapshot.Errors.Single(e => e.Path!.EndsWith("b-broken.yaml"));
        Assert.Contains("invalid YAML", broken.Message);
        Assert.NotNull(broken.Line);
        Assert.Contains("metadata.name is required", snapshot.Errors.Single(e => e.Path!.EndsWith("c-noname.yaml")).Message);
        Assert.Contains("duplicate", snapshot.Errors.Single(e => e.Path!.EndsWith("d-duplicate.yaml")).Message);
        var unknown = snapshot.Errors.Single(e => e.Path!.EndsWith("e-unknown.yaml"));
        Assert.Contains("unknown field \"spec.containers[0].comand\"", unknown.Message);
        Assert.Equal(11, unknown.Line);
    }

    [Theory]
    [InlineData("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  containers:\n  - name: c\n    image: i\n", "is not a Pod")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: i\n  volumes:\n  - name: v\n    nfs:\n      server: s\n      path: /\n", "volume type nfs is not supported")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: i\n  - name: c\n    image: i\n", "spec.containers[1].name: Duplicate value: \"c\"")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: i\n    env:\n    - name: PORT\n      value: 8080\n", "env[0].value")]
    public void Unsupported_or_invalid_pods_are_refused_with_the_reason(string yaml, string expected)
    {
        File.WriteAllText(Path.Combine(_dir, "p.yaml"), yaml);
        var snapshot = Source().Read();
        Assert.Empty(snapshot.Pods);
        Assert.Contains(expected, Assert.Single(snapshot.Errors).Message);
    }

    [Fact]
    public async Task Watching_yields_a_new_snapshot_when_a_manifest_is_added_or_removed()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var source = new StaticPodSource(_dir, "node-a", TimeSpan.FromSeconds(20));
        await using var snapshots = source.WatchAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await snapshots.MoveNextAsync());
        Assert.Empty(snapshots.Current.Pods);
        File.WriteAllText(Path.Combine(_dir, "web.yaml"), Web);
        Assert.Single((await NextSettledAsync(snapshots)).Pods);
        File.Delete(Path.Combine(_dir, "web.yaml"));
        Assert.Empty((await NextSettledAsync(snapshots)).Pods);
    }

    /// <summary>The next snapshot not marked Settling, failing on any that reports an error before it.</summary>
    private static async Task<PodSourceSnapshot> NextSettledAsync(IAsyncEnumerator<PodSourceSnapshot> snapshots)
    {
        while (true)
        {
            Assert.True(await snapshots.MoveNextAsync());
            Assert.Empty(snapshots.Current.Errors);
            if (!snapshots.Current.Settling) return snapshots.Current;
        }
    }

    private static void WrittenAgo(string file, TimeSpan ago) => File.SetLastWriteTimeUtc(file, DateTime.UtcNow - ago);

    [Fact]
    public void A_manifest_part_way_through_being_written_keeps_its_pod_until_it_settles_then_is_reported()
    {
        var file = Path.Combine(_dir, "web.yaml");
        File.WriteAllText(file, Web);
        WrittenAgo(file, TimeSpan.FromSeconds(5));
        var source = Source();
        var byFile = new Dictionary<string, k8s.Models.V1Pod>(StringComparer.Ordinal);
        var uid = Assert.Single(source.Read(byFile, StaticPodSource.SettleWindow, out var settling).Pods).Metadata.Uid;
        Assert.False(settling);

        // Past the quiet period, so it is read, but within the settle window: it does not parse yet.
        File.WriteAllText(file, Web[..(Web.IndexOf("containers:", StringComparison.Ordinal) - 3)] + "\n  containers: [");
        WrittenAgo(file, StaticPodSource.QuietPeriod * 4);
        var writing = source.Read(byFile, StaticPodSource.SettleWindow, out settling);
        Assert.True(settling);
        Assert.True(writing.Settling);
        Assert.Empty(writing.Errors);
        Assert.Equal(uid, Assert.Single(writing.Pods).Metadata.Uid); // the running pod is not dropped
        var config = new PodConfig(["file"]);
        config.Set(writing);
        Assert.False(config.AllSourcesSeen); // no housekeeping, and -Once waits, until the file settles

        WrittenAgo(file, StaticPodSource.SettleWindow + TimeSpan.FromSeconds(1));
        var settled = source.Read(byFile, StaticPodSource.SettleWindow, out settling);
        Assert.False(settling);
        config.Set(settled);
        Assert.True(config.AllSourcesSeen);
        Assert.Empty(settled.Pods);
        Assert.Equal(file, Assert.Single(settled.Errors).Path);
    }

    [Fact]
    public void A_manifest_written_a_moment_ago_is_not_read_yet_even_if_what_is_there_is_a_valid_pod()
    {
        var file = Path.Combine(_dir, "web.yaml");
        File.WriteAllText(file, Web);
        WrittenAgo(file, TimeSpan.FromSeconds(5));
        var source = Source();
        var byFile = new Dictionary<string, k8s.Models.V1Pod>(StringComparer.Ordinal);
        var before = Assert.Single(source.Read(byFile, StaticPodSource.SettleWindow, out _).Pods).Metadata.Uid;

        // A writer part-way through: the first lines alone are a valid pod, without its command and ports.
        File.WriteAllText(file, Web[..Web.IndexOf("    command:", StringComparison.Ordinal)]);
        var now = source.Read(byFile, StaticPodSource.SettleWindow, out var settling);
        Assert.True(settling);
        Assert.Equal(before, Assert.Single(now.Pods).Metadata.Uid);

        WrittenAgo(file, TimeSpan.FromSeconds(5));
        var after = Assert.Single(source.Read(byFile, StaticPodSource.SettleWindow, out settling).Pods);
        Assert.False(settling);
        Assert.NotEqual(before, after.Metadata.Uid);
        Assert.Null(after.Spec.Containers[0].Command);
    }

    [Fact]
    public void A_new_manifest_part_way_through_being_written_is_neither_a_pod_nor_an_error_yet()
    {
        var file = Path.Combine(_dir, "web.yaml");
        File.WriteAllText(file, "apiVersion: v1\nkind: Pod\nmetadata: {name: web");
        WrittenAgo(file, StaticPodSource.QuietPeriod * 4);
        var snapshot = Source().Read(new Dictionary<string, k8s.Models.V1Pod>(StringComparer.Ordinal), StaticPodSource.SettleWindow, out var settling);
        Assert.True(settling);
        Assert.Empty(snapshot.Pods);
        Assert.Empty(snapshot.Errors);
        Assert.Single(Source().Read().Errors); // a one-off read reports it at once
    }

    [Fact]
    public async Task Watching_a_manifest_written_in_two_steps_yields_the_pod_and_never_an_error()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var source = new StaticPodSource(_dir, "node-a", TimeSpan.FromSeconds(20));
        await using var snapshots = source.WatchAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await snapshots.MoveNextAsync());
        Assert.Empty(snapshots.Current.Pods);

        var file = Path.Combine(_dir, "web.yaml");
        var cut = Web.IndexOf("containers:", StringComparison.Ordinal);
        await File.WriteAllTextAsync(file, Web[..cut], cts.Token);
        // Long enough for the watcher to read the half-written file several times (it reads on each change, and every 100 ms while a file settles).
        await Task.Delay(400, cts.Token);
        await File.AppendAllTextAsync(file, Web[cut..], cts.Token);

        var settled = await NextSettledAsync(snapshots);
        Assert.Empty(settled.Errors);
        Assert.Equal("web-node-a", Assert.Single(settled.Pods).Metadata.Name);
    }
}
