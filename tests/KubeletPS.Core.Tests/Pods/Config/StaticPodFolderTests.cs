using KubeletPS.Core.Pods.Config;

namespace KubeletPS.Core.Tests.Pods.Config;

/// <summary>
/// A static pod folder holding invalid manifests beside valid ones: each bad file is reported with its
/// path, field and line, and never stops or delays the others. JSON manifests are read as kubelet reads
/// them; dot-files are ignored.
/// </summary>
public sealed class StaticPodFolderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kubeletps-folder-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static string Manifest(string name, string extraMetadata = "", string ports = "") => $"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {name}
        {extraMetadata}
        spec:
          containers:
          - name: main
            image: kubeletps.local/busybox:latest
            imagePullPolicy: IfNotPresent
            command: ["sleep", "3600"]
        {ports}
          terminationGracePeriodSeconds: 1
        """;

    /// <summary>A valid pod, written as JSON with tab indentation and JSON escapes.</summary>
    internal const string JsonManifest = "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Pod\",\n\t\"metadata\": {\"name\": \"from-json\", \"annotations\": {\"note\": \"caf\\u00e9 \\/ \\\"quoted\\\"\"}},\n"
        + "\t\"spec\": {\"terminationGracePeriodSeconds\": 1, \"containers\": [{\"name\": \"main\", \"image\": \"kubeletps.local/busybox:latest\", \"imagePullPolicy\": \"IfNotPresent\",\n\t\t\"command\": [\"sleep\", \"3600\"]}]}\n}\n";

    /// <summary>The five bad manifests of issue 10, with the field each is refused for and its line.</summary>
    internal static readonly (string File, string Text, string Field, int Line)[] BadManifests =
    [
        ("bad-name.yaml", Manifest("Bad_Name!"), "metadata.name", 4),
        ("long-name.yaml", Manifest(new string('a', 300)), "metadata.name", 4),
        ("big-annotation.yaml", Manifest("big", $"  annotations:\n    big: {new string('x', 300 * 1024)}"), "metadata.annotations", 6),
        ("port-70000.yaml", Manifest("port", ports: "    ports:\n    - containerPort: 70000"), "spec.containers[0].ports[0].containerPort", 13),
        ("same-hostport.yaml", Manifest("hostports", ports: "    ports:\n    - containerPort: 80\n      hostPort: 8080\n    - containerPort: 81\n      hostPort: 8080"),
            "spec.containers[0].ports[1].hostPort", 16),
    ];

    internal static void WriteFolder(string dir)
    {
        File.WriteAllText(Path.Combine(dir, "good.yaml"), Manifest("good"));
        File.WriteAllText(Path.Combine(dir, "pod.json"), JsonManifest);
        File.WriteAllText(Path.Combine(dir, ".editor-swap.yaml"), "this: [is not a pod");
        foreach (var (file, text, _, _) in BadManifests) File.WriteAllText(Path.Combine(dir, file), text);
    }

    [Fact]
    public void Each_bad_manifest_is_reported_with_path_field_and_line_and_the_good_ones_become_pods()
    {
        WriteFolder(_dir);
        var snapshot = new StaticPodSource(_dir, "node-a", TimeSpan.FromSeconds(20)).Read();
        Assert.Equal(["from-json-node-a", "good-node-a"], snapshot.Pods.Select(p => p.Metadata.Name).Order(StringComparer.Ordinal));
        Assert.Equal(BadManifests.Length, snapshot.Errors.Count);
        foreach (var (file, _, field, line) in BadManifests)
        {
            var path = Path.Combine(_dir, file);
            var error = Assert.Single(snapshot.Errors, e => e.Path == path);
            Assert.Equal(line, error.Line);
            Assert.StartsWith($"{path}:{line}:", error.Message, StringComparison.Ordinal);
            Assert.Contains($"invalid pod: {field}: ", error.Message, StringComparison.Ordinal);
        }
        var json = snapshot.Pods.Single(p => p.Metadata.Name == "from-json-node-a");
        Assert.Equal("caf\u00e9 / \"quoted\"", json.Metadata.Annotations["note"]);
    }

    [Fact]
    public async Task A_bad_manifest_is_reported_again_only_when_the_folder_changes()
    {
        WriteFolder(_dir);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var source = new StaticPodSource(_dir, "node-a", TimeSpan.FromMilliseconds(100));
        await using var snapshots = source.WatchAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        // Files written a moment ago are held back until they settle (an editor may be part-way through).
        do Assert.True(await snapshots.MoveNextAsync());
        while (snapshots.Current.Settling);
        var first = snapshots.Current;
        Assert.Equal(BadManifests.Length, first.Errors.Count);

        // Re-reads every 100 ms find nothing new: the next snapshot is the one the edit causes.
        await Task.Delay(500, cts.Token);
        File.WriteAllText(Path.Combine(_dir, "port-70000.yaml"), Manifest("port", ports: "    ports:\n    - containerPort: 7000"));
        do Assert.True(await snapshots.MoveNextAsync());
        while (snapshots.Current.Settling);
        Assert.Equal(BadManifests.Length - 1, snapshots.Current.Errors.Count);
        Assert.Equal(3, snapshots.Current.Pods.Count);
        // Errors of files that did not change keep the identity the agent reports them by.
        var unchanged = Path.Combine(_dir, "bad-name.yaml");
        Assert.Equal(first.Errors.Single(e => e.Path == unchanged), snapshots.Current.Errors.Single(e => e.Path == unchanged));
    }
}
