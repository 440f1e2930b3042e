using System.Diagnostics;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Runtime;
using KubeletPS.TestCluster.Runtime;

namespace KubeletPS.Benchmarks;

/// <summary>
/// How long the agent takes to stop a static pod whose manifest is removed: from the file deleted to the pod's sandbox
/// gone from the runtime, for a container that exits on SIGTERM (the agent's own cost) and for one that ignores it (the
/// grace period plus the agent's cost). PodSyncTests checks the behaviour (SIGTERM delivered, the grace period let run);
/// the duration is this figure.
/// </summary>
public static class PodRemovalBenchmark
{
    private const int IgnoringGraceSeconds = 3;

    public static async Task<int> RunAsync(string[] args)
    {
        var pods = 5;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--pods": pods = int.Parse(args[i + 1]); break;
                default:
                    Console.Error.WriteLine($"pod-removal: unknown argument {args[i]}");
                    return 2;
            }
        }

        var baseDir = Path.Combine("/tmp", "kps-removal-" + Guid.NewGuid().ToString("N")[..6]);
        await using var containerd = await PrivateContainerd.StartAsync(baseDir, new PrivateContainerdOptions { DeleteBaseDirectoryOnDispose = true });
        var manifests = Directory.CreateDirectory(Path.Combine(baseDir, "manifests")).FullName;
        var agent = new PodSyncAgent(new PodSyncAgentOptions
        {
            NodeName = "bench",
            StaticPodPath = manifests,
            RuntimeEndpoint = containerd.Endpoint,
            RootDirectory = Path.Combine(baseDir, "root"),
            PodLogsDirectory = containerd.PodLogsDir,
            FileCheckFrequency = TimeSpan.FromSeconds(20),
            StopPodsOnExit = true,
        });
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => agent.RunAsync(stop.Token));
        await using var client = containerd.CreateClient();
        var ok = true;
        foreach (var (kind, script, grace) in new[]
        {
            ("exits on SIGTERM", "trap 'exit 0' TERM; while true; do sleep 0.2; done", 30),
            ($"ignores SIGTERM (grace {IgnoringGraceSeconds} s)", "sleep 3600", IgnoringGraceSeconds),
        })
        {
            var durations = new List<double>();
            for (var i = 0; i < pods; i++)
            {
                var name = $"removal-{i}";
                var file = Path.Combine(manifests, name + ".yaml");
                await File.WriteAllTextAsync(file, Manifest(name, script, grace));
                if (!await UntilAsync(async () => (await client.ListContainersAsync(new ContainerFilter { State = ContainerState.Running })).Count == 1, TimeSpan.FromMinutes(2)))
                {
                    Console.Error.WriteLine($"pod-removal: {name} did not start");
                    ok = false;
                    break;
                }
                var watch = Stopwatch.StartNew();
                File.Delete(file);
                ok &= await UntilAsync(async () => (await client.ListPodSandboxesAsync()).Count == 0, TimeSpan.FromMinutes(2));
                durations.Add(watch.Elapsed.TotalMilliseconds);
            }
            var sorted = durations.Order().ToArray();
            Console.WriteLine($"pod removal, container {kind}: manifest deleted to sandbox gone over {sorted.Length} pods: " +
                              $"p50 {AgentPodStartup.Percentile(sorted, 0.50):F0} ms, max {(sorted.Length > 0 ? sorted[^1] : 0):F0} ms; " +
                              $"load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        }

        await stop.CancelAsync();
        await run;
        await agent.DisposeAsync();
        return ok ? 0 : 1;
    }

    private static async Task<bool> UntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition()) return true;
            await Task.Delay(20);
        }
        return false;
    }

    private static string Manifest(string name, string script, int grace) => $$"""
        apiVersion: v1
        kind: Pod
        metadata: {name: {{name}}}
        spec:
          terminationGracePeriodSeconds: {{grace}}
          containers:
          - name: main
            image: {{OciImageBuilder.BusyboxImage}}
            imagePullPolicy: IfNotPresent
            command: ["sh", "-c", {{System.Text.Json.JsonSerializer.Serialize(script)}}]
        """;
}
