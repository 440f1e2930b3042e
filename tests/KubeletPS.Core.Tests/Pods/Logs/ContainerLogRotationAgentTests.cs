using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using KubeletPS.Core.Runtime.Logs;
using KubeletPS.Core.Tests.Agent;
using KubeletPS.Core.Tests.Support;

namespace KubeletPS.Core.Tests.Pods.Logs;

/// <summary>
/// The full agent on the private containerd with containerLogMaxSize 1Mi, containerLogMaxFiles 3 and
/// containerLogMonitorInterval 3s (the least kubelet's configuration accepts): a chatty container's
/// log directory stays within the limits, the container keeps writing after each reopen, and the
/// reader (Get-KubeletContainerLog's) and kubectl logs through the kubelet server read across the files.
/// </summary>
[Collection(KubeletAgentCollection.Name)]
public sealed partial class ContainerLogRotationAgentTests(KubeletAgentFixture fixture) : IAsyncLifetime
{
    private const string Node = "logrotate-node";
    private ApiAgentHarness _h = null!;

    public async Task InitializeAsync() => _h = await ApiAgentHarness.StartAsync(Node, "kubeletps-logrotate-");

    public async Task DisposeAsync() => await _h.DisposeAsync();

    // Each line: "<round>-<n> " and 4000 x's; 8 lines then a short pause, about 0.5 MiB/s.
    private const string Chatty = "PAD=$(head -c 4000 /dev/zero | tr '\\\\0' x); i=0; while true; do i=$((i+1)); for j in 1 2 3 4 5 6 7 8; do echo \\\"$i-$j $PAD\\\"; done; sleep 0.05; done";

    [GeneratedRegex(@"^(\d+)-(\d) x{4000}$")]
    private static partial Regex ChattyLine();

    private static long Sequence(string line)
    {
        var m = ChattyLine().Match(line);
        Assert.True(m.Success, $"not a line of the chatty container: {line[..Math.Min(line.Length, 60)]}");
        return (long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) * 8) + m.Groups[2].Value[0] - '1';
    }

    /// <summary>The lines follow each other without a gap (none lost between the files).</summary>
    private static void AssertContiguous(IReadOnlyList<string> lines, string what)
    {
        var numbers = lines.Select(Sequence).ToList();
        for (var i = 1; i < numbers.Count; i++)
            Assert.True(numbers[i] == numbers[i - 1] + 1, $"{what}: line {lines[i][..12]} follows {lines[i - 1][..12]}");
    }

    [Fact]
    public async Task Chatty_container_log_rotates_within_the_limits_and_is_read_across_the_files()
    {
        var config = $"authentication:\n  x509:\n    clientCAFile: {_h.ClusterCaPath}\ncontainerLogMaxSize: 1Mi\ncontainerLogMaxFiles: 3\ncontainerLogMonitorInterval: 3s\n";
        await _h.RunAgentAsync(fixture.Containerd, config: config, configure: r => r with { Node = r.Node with { NodeIp = "127.0.0.1" } }, body: async () =>
        {
            _h.Server.Store.Create("pods", JsonNode.Parse("""
                {"apiVersion":"v1","kind":"Pod","metadata":{"name":"chatty","namespace":"default"},
                 "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":1,"containers":[{"name":"main","image":"kubeletps.local/busybox:latest",
                   "imagePullPolicy":"IfNotPresent","command":["sh","-c","SCRIPT"]}]}}
                """.Replace("NODE", Node).Replace("SCRIPT", Chatty))!.AsObject());
            await TestApiClients.WaitUntilAsync(() => (string?)_h.Server.Store.Get("pods", "default", "chatty")?["status"]?["phase"] == "Running", "chatty runs", 90);
            var uid = (string)_h.Server.Store.Get("pods", "default", "chatty")!["metadata"]!["uid"]!;
            var log = Path.Combine(fixture.Containerd.PodLogsDir, $"default_chatty_{uid}", "main", "0.log");

            // Until two rotations happened (one file compressed): at every look, at most 3 files, and
            // every rotated file gzipped except the latest.
            var rotatedNames = new HashSet<string>(StringComparer.Ordinal);
            string[] files = [];
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (DateTime.UtcNow < deadline)
            {
                files = Directory.GetFiles(Path.GetDirectoryName(log)!).Select(f => Path.GetFileName(f)!).Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
                Assert.True(files.Length <= 3, "more than containerLogMaxFiles: " + string.Join(", ", files));
                var rotated = files.Where(f => f != "0.log").ToList();
                Assert.True(rotated.SkipLast(1).All(f => f.EndsWith(".gz", StringComparison.Ordinal)), "an older rotated file left uncompressed: " + string.Join(", ", files));
                rotatedNames.UnionWith(rotated.Select(f => f.Replace(".gz", "", StringComparison.Ordinal)));
                if (rotatedNames.Count >= 3 && files.Any(f => f.EndsWith(".gz", StringComparison.Ordinal))) break;
                await Task.Delay(250);
            }
            Assert.True(rotatedNames.Count >= 3, "not rotated three times: " + string.Join(", ", files));
            Assert.All(rotatedNames, n => Assert.Matches(@"^0\.log\.\d{8}-\d{6}$", n));

            // No lost writer: after the reopens the container still writes to the new 0.log.
            string Newest() => Directory.GetFiles(Path.GetDirectoryName(log)!, "0.log.*").Select(f => f.Replace(".gz", "", StringComparison.Ordinal)).Order(StringComparer.Ordinal).Last();
            var (size, newest) = (new FileInfo(log).Length, Newest());
            await TestApiClients.WaitUntilAsync(() => new FileInfo(log).Length > size || Newest() != newest, "the container writes on after the reopen", 30);

            // The engine's reader (Get-KubeletContainerLog): everything left, oldest first, without a gap.
            var all = await ReadContiguousAsync(log, null);
            Assert.True(all.Count > 1024 * 1024 / 4010, $"only {all.Count} lines read: not across the files");
            Assert.True(Sequence(all[0]) > 0, "the oldest lines should have been removed with the oldest file");
            var tail = await ReadContiguousAsync(log, 400);
            Assert.Equal(400, tail.Count);

            // kubectl logs through the test API server and the kubelet server's containerLogs.
            var viaKubectl = await ReadKubectlAsync("logs", "chatty", "--tail", "400");
            Assert.Equal(400, viaKubectl.Count);
            AssertContiguous(viaKubectl, "kubectl logs --tail 400");
            var limited = string.Join("\n", await ReadKubectlAsync("logs", "chatty", "--limit-bytes", "2000000"));
            Assert.InRange(limited.Length, 1999000, 2000000);
        });
    }

    /// <summary>Reads the log as Get-KubeletContainerLog does; a rotation between listing the files and reading the current one may leave a gap, so up to three tries.</summary>
    private static async Task<List<string>> ReadContiguousAsync(string log, int? tail)
    {
        for (var attempt = 1; ; attempt++)
        {
            var lines = (await ContainerLogReader.ReadAllAsync(log, tail)).Select(e => e.Message).ToList();
            try
            {
                AssertContiguous(lines, $"read of {log} (tail {tail})");
                return lines;
            }
            catch (Xunit.Sdk.XunitException) when (attempt < 3)
            {
            }
        }
    }

    private async Task<List<string>> ReadKubectlAsync(params string[] args) =>
        (await _h.AdminKubectl.OutputAsync(args)).Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
}
