using KubeletPS.Core.Agent;

namespace KubeletPS.Core.Tests.Pods.Config;

/// <summary>The folder of issue 10 (a good manifest beside five invalid ones) run by the pod sync agent on the private containerd.</summary>
[Collection(PodSyncCollection.Name)]
public sealed class StaticPodFolderSyncTests(PodSyncFixture fixture)
{
    private static string BaseDir(PodSyncFixture fixture) => Path.Combine(fixture.Containerd.BaseDir, "agents", Guid.NewGuid().ToString("N")[..8]);

    [Fact]
    public async Task SyncOnce_starts_the_good_pods_reports_each_bad_manifest_and_finishes()
    {
        var dir = BaseDir(fixture);
        var manifests = Path.Combine(dir, "manifests");
        Directory.CreateDirectory(manifests);
        StaticPodFolderTests.WriteFolder(manifests);
        var root = Path.Combine(dir, "root");
        // As Start-KubeletPodSync -Once: the pods keep running after the sync.
        var harness = new AgentHarness(fixture, manifests, root, stopPodsOnExit: false, null, null, 2);
        PodSyncOnceResult result;
        try
        {
            result = await harness.Agent.SyncOnceAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            await harness.DisposeAsync();
            // An agent on the same folders adopts the pods and stops them when disposed.
            await fixture.NewAgent(manifests, root).DisposeAsync();
        }

        Assert.True(result.Settled, harness.Log.ToString());
        Assert.Equal(["from-json-node1", "good-node1"], result.Pods.Select(p => p.Metadata.Name));
        Assert.All(result.Pods, p => Assert.Equal("Running", p.Status.Phase));
        Assert.Equal(StaticPodFolderTests.BadManifests.Length, result.Errors.Count);
        foreach (var (file, _, field, line) in StaticPodFolderTests.BadManifests)
        {
            var error = Assert.Single(result.Errors, e => e.Path == Path.Combine(manifests, file));
            Assert.Equal(field, error.Field);
            Assert.Equal(line, error.Line);
            // Reported once, with its path, line and field.
            Assert.Single(harness.Log.Warnings, w => w.StartsWith($"{error.Path}:{line}:", StringComparison.Ordinal) && w.Contains(field, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task A_bad_manifest_is_reported_once_while_other_files_change()
    {
        var harness = fixture.NewAgent();
        await using var _ = harness;
        StaticPodFolderTests.WriteFolder(harness.ManifestDirectory);
        await harness.WaitForRunningAsync("good");
        harness.Write("second.yaml", StaticPodFolderTests.Manifest("second"));
        var second = (await harness.WaitForRunningAsync("second")).Metadata.Uid;
        harness.Remove("second.yaml");
        await PodSyncFixture.WaitForAsync(() => harness.SandboxesAsync(second), s => s.Count == 0, "second removed");

        foreach (var (file, _, _, _) in StaticPodFolderTests.BadManifests)
        {
            var path = Path.Combine(harness.ManifestDirectory, file);
            Assert.Single(harness.Log.Warnings, w => w.StartsWith(path + ":", StringComparison.Ordinal));
        }

        // Rewriting a bad file is a change: reported again, once.
        var (again, text, _, _) = StaticPodFolderTests.BadManifests[0];
        harness.Write(again, text + "\n");
        var againPath = Path.Combine(harness.ManifestDirectory, again);
        await PodSyncFixture.WaitForAsync(() => harness.Log.Warnings.Count(w => w.StartsWith(againPath + ":", StringComparison.Ordinal)), n => n == 2, "the rewritten file reported again");
    }
}
