using System.Diagnostics;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Remote;
using KubeletPS.TestCluster.Runtime;

namespace KubeletPS.Benchmarks;

/// <summary>
/// How fast pods start when talking CRI directly (RunPodSandbox, CreateContainer, StartContainer),
/// the floor the agent's own pod start is compared with. Uses a private containerd unless
/// <c>--endpoint</c> names one that already has the busybox and pause images.
/// </summary>
public static class DirectCriBaseline
{
    public static async Task<int> RunAsync(string[] args)
    {
        var pods = 30;
        var parallel = 1;
        string? endpoint = null;
        string? dir = null;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--pods": pods = int.Parse(args[i + 1]); break;
                case "--parallel": parallel = int.Parse(args[i + 1]); break;
                case "--endpoint": endpoint = args[i + 1]; break;
                case "--dir": dir = args[i + 1]; break;
                default:
                    Console.Error.WriteLine($"direct-cri: unknown argument {args[i]}");
                    return 2;
            }
        }

        PrivateContainerd? containerd = null;
        var podLogs = Path.Combine(Path.GetTempPath(), "kps-bench-logs");
        if (endpoint is null)
        {
            var started = Stopwatch.StartNew();
            containerd = await PrivateContainerd.StartAsync(dir ?? Path.Combine("/tmp", "kps-bench-" + Guid.NewGuid().ToString("N")[..6]), new PrivateContainerdOptions { DeleteBaseDirectoryOnDispose = dir is null });
            Console.WriteLine($"private containerd: ready in {containerd.LastStartDuration.TotalMilliseconds:F0} ms (with images {started.ElapsedMilliseconds} ms), snapshotter {containerd.Snapshotter}");
            endpoint = containerd.Endpoint;
            podLogs = containerd.PodLogsDir;
        }

        try
        {
            await using var client = new CriRuntimeClient(endpoint);
            await client.EnsureReadyAsync();
            var sandboxes = new System.Collections.Concurrent.ConcurrentBag<string>();
            var durations = new double[pods];
            var ownDurations = new double[pods];
            var sandboxDurations = new double[pods];
            var createDurations = new double[pods];
            var total = Stopwatch.StartNew();
            var burstBegin = Stopwatch.GetTimestamp();
            await Parallel.ForEachAsync(Enumerable.Range(0, pods), new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (i, ct) =>
            {
                var uid = Guid.NewGuid().ToString();
                var pod = new PodSandboxSpec
                {
                    Name = $"bench-{i}",
                    Namespace = "default",
                    Uid = uid,
                    Hostname = $"bench-{i}",
                    LogDirectory = PodSandboxSpec.DefaultLogDirectory(podLogs, "default", $"bench-{i}", uid),
                    Labels = new Dictionary<string, string> { ["kubeletps.bench"] = "direct-cri" },
                };
                var watch = Stopwatch.StartNew();
                var sandboxId = await client.RunPodSandboxAsync(pod, ct);
                sandboxes.Add(sandboxId);
                sandboxDurations[i] = watch.Elapsed.TotalMilliseconds;
                var containerId = await client.CreateContainerAsync(sandboxId, new ContainerSpec
                {
                    Name = "main",
                    Image = OciImageBuilder.BusyboxImage,
                    Command = ["sleep", "3600"],
                    LogPath = ContainerSpec.DefaultLogPath("main", 0),
                }, pod, ct);
                createDurations[i] = watch.Elapsed.TotalMilliseconds - sandboxDurations[i];
                await client.StartContainerAsync(containerId, ct);
                ownDurations[i] = watch.Elapsed.TotalMilliseconds;
                // From the moment all pods were asked for, as the agent's figure is measured.
                durations[i] = total.Elapsed.TotalMilliseconds;
            });
            total.Stop();
            Console.WriteLine($"burst window (CLOCK_MONOTONIC s): {burstBegin / (double)Stopwatch.Frequency:F6},{Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency:F6}");

            Array.Sort(durations);
            Array.Sort(ownDurations);
            Array.Sort(sandboxDurations);
            Array.Sort(createDurations);
            Console.WriteLine($"direct CRI: {pods} pods (sandbox + 1 container), parallel {parallel}: total {total.ElapsedMilliseconds} ms, " +
                $"from all requested at once: p50 {Percentile(durations, 0.50):F0} ms, p99 {Percentile(durations, 0.99):F0} ms, max {durations[^1]:F0} ms; " +
                $"each pod's own time p50 {Percentile(ownDurations, 0.50):F0} ms " +
                $"(p50 RunPodSandbox {Percentile(sandboxDurations, 0.50):F0} ms, CreateContainer {Percentile(createDurations, 0.50):F0} ms); load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");

            var cleanup = Stopwatch.StartNew();
            foreach (var id in sandboxes)
            {
                await client.StopPodSandboxAsync(id);
                await client.RemovePodSandboxAsync(id);
            }

            Console.WriteLine($"cleanup: {cleanup.ElapsedMilliseconds} ms");
            return 0;
        }
        finally
        {
            if (containerd is not null)
            {
                await containerd.DisposeAsync();
            }
        }
    }

    private static double Percentile(double[] sorted, double p)
        => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
