using KubeletPS.Core.Pods.Config;

namespace KubeletPS.Core.Tests.Pods.Config;

/// <summary>
/// The static pod folder's watch: a file its writer has closed, or one moved in whole, is read at once;
/// one still open for writing waits its quiet period; an edit is read again.
/// </summary>
public sealed class StaticPodSourceWatchTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kubeletps-static-watch-").FullName;
    private readonly string _elsewhere = Directory.CreateTempSubdirectory("kubeletps-static-staging-").FullName;

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        Directory.Delete(_elsewhere, recursive: true);
    }

    private static string Pod(string name, string command = "sleep") => $$"""
        apiVersion: v1
        kind: Pod
        metadata: {name: {{name}}}
        spec:
          containers:
          - name: main
            image: kubeletps.local/busybox:latest
            command: [{{command}}, "3600"]
        """;

    private async Task<IAsyncEnumerator<PodSourceSnapshot>> WatchAsync(CancellationToken ct)
    {
        var snapshots = new StaticPodSource(_dir, "node-a", TimeSpan.FromMinutes(5)).WatchAsync(ct).GetAsyncEnumerator(ct);
        Assert.True(await snapshots.MoveNextAsync());
        Assert.Empty(snapshots.Current.Pods);
        return snapshots;
    }

    // A modification time in the future keeps the file inside its quiet period however slow the
    // machine is: only a writer known to be done lets the source read it before that.
    private static void WrittenJustNow(string file) => File.SetLastWriteTimeUtc(file, DateTime.UtcNow + TimeSpan.FromMinutes(1));

    [Fact]
    public async Task A_manifest_moved_in_whole_is_a_pod_at_once_without_waiting_for_its_quiet_period()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var snapshots = await WatchAsync(cts.Token);
        var staged = Path.Combine(_elsewhere, "web.yaml");
        File.WriteAllText(staged, Pod("web"));
        WrittenJustNow(staged);
        File.Move(staged, Path.Combine(_dir, "web.yaml"));

        Assert.True(await snapshots.MoveNextAsync());
        Assert.False(snapshots.Current.Settling);
        Assert.Equal("web-node-a", Assert.Single(snapshots.Current.Pods).Metadata.Name);
    }

    [Fact]
    public async Task A_manifest_still_open_for_writing_is_held_and_becomes_a_pod_when_its_writer_closes_it()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var snapshots = await WatchAsync(cts.Token);
        var file = Path.Combine(_dir, "web.yaml");
        var writer = new FileStream(file, FileMode.CreateNew, FileAccess.Write);
        try
        {
            // What is there is a whole valid pod, but the writer may not be done: it is not read yet.
            var bytes = System.Text.Encoding.UTF8.GetBytes(Pod("web"));
            writer.Write(bytes);
            writer.Flush();
            WrittenJustNow(file);
            Assert.True(await snapshots.MoveNextAsync());
            Assert.True(snapshots.Current.Settling);
            Assert.Empty(snapshots.Current.Pods);
            Assert.Empty(snapshots.Current.Errors);
        }
        finally
        {
            writer.Dispose();
        }

        while (true)
        {
            Assert.True(await snapshots.MoveNextAsync());
            Assert.Empty(snapshots.Current.Errors);
            if (snapshots.Current.Pods.Count > 0) break;
        }
        Assert.False(snapshots.Current.Settling);
        Assert.Equal("web-node-a", Assert.Single(snapshots.Current.Pods).Metadata.Name);
    }

    [Fact]
    public async Task Watching_an_edited_manifest_yields_the_edited_pod()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var snapshots = await WatchAsync(cts.Token);
        var file = Path.Combine(_dir, "web.yaml");
        File.WriteAllText(file, Pod("web"));
        var first = await NextWithPodAsync(snapshots, p => p.Spec.Containers[0].Command[0] == "sleep");

        File.WriteAllText(file, Pod("web", "/bin/sleep"));
        var edited = await NextWithPodAsync(snapshots, p => p.Spec.Containers[0].Command[0] == "/bin/sleep");
        Assert.NotEqual(first.Metadata.Uid, edited.Metadata.Uid);
    }

    [Fact]
    public async Task A_file_whose_name_is_not_UTF8_neither_stops_the_watch_nor_the_other_pods()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var snapshots = await WatchAsync(cts.Token);
        try
        {
            // A name .NET cannot decode (0xFF): the inotify event, the folder listing and the read all meet it.
            await ShAsync("printf 'apiVersion: v1\\nkind: Pod\\n' > \"$1/$(printf '\\377')x.yaml\"", cts.Token);
            Assert.Single(Directory.GetFiles(_dir));
            File.WriteAllText(Path.Combine(_dir, "web.yaml"), Pod("web"));

            // The watch goes on, the good pod comes, and the file .NET cannot open is an error naming it (its
            // undecodable byte shown as U+FFFD), not a pod and not a stop.
            while (true)
            {
                Assert.True(await snapshots.MoveNextAsync());
                if (snapshots.Current.Pods.Any(p => p.Metadata.Name == "web-node-a")) break;
            }
            Assert.Equal("web-node-a", Assert.Single(snapshots.Current.Pods).Metadata.Name);
            var error = Assert.Single(snapshots.Current.Errors);
            Assert.EndsWith("\uFFFDx.yaml", error.Path, StringComparison.Ordinal);
        }
        finally
        {
            // Directory.Delete cannot name the file either.
            await ShAsync("rm -f \"$1\"/*", CancellationToken.None);
        }
    }

    private async Task ShAsync(string script, CancellationToken ct)
    {
        using var sh = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("sh", ["-c", script, "sh", _dir]))!;
        await sh.WaitForExitAsync(ct);
        Assert.Equal(0, sh.ExitCode);
    }

    private static async Task<k8s.Models.V1Pod> NextWithPodAsync(IAsyncEnumerator<PodSourceSnapshot> snapshots, Func<k8s.Models.V1Pod, bool> wanted)
    {
        while (true)
        {
            Assert.True(await snapshots.MoveNextAsync());
            Assert.Empty(snapshots.Current.Errors);
            if (snapshots.Current.Pods.FirstOrDefault(wanted) is { } pod) return pod;
        }
    }
}
