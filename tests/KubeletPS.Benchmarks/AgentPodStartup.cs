using System.Diagnostics;
using KubeletPS.Core;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Remote;
using KubeletPS.TestCluster.Runtime;

namespace KubeletPS.Benchmarks;

/// <summary>
/// How fast the agent starts static pods: N manifests written into its folder, and per pod the time
/// from the first manifest written to the agent's Started event for its container (its StartContainer
/// call returned), checked against ListContainers at the end. Compare with <c>direct-cri</c> on the
/// same machine, measured the same way. Also the process's working set with the pods running.
/// </summary>
public static class AgentPodStartup
{
    /// <summary>How often the benchmark looks at the agent's events (in process: no runtime calls).</summary>
    private static readonly int PollMs = int.TryParse(Environment.GetEnvironmentVariable("KPS_BENCH_POLL_MS"), out var ms) ? ms : 20;

    public static async Task<int> RunAsync(string[] args)
    {
        var pods = 30;
        string? dir = null;
        var maxParallel = KubeGenericRuntimeManager.DefaultParallelSandboxCreations;
        var warmup = 0;
        string? timelinePath = null;
        var volumes = false;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--pods": pods = int.Parse(args[i + 1]); break;
                case "--dir": dir = args[i + 1]; break;
                case "--max-parallel": maxParallel = int.Parse(args[i + 1]); break;
                case "--warmup": warmup = int.Parse(args[i + 1]); break;
                case "--timeline": timelinePath = args[i + 1]; break;
                case "--volumes": volumes = bool.Parse(args[i + 1]); break;
                default:
                    Console.Error.WriteLine($"agent: unknown argument {args[i]}");
                    return 2;
            }
        }

        var baseDir = dir ?? Path.Combine("/tmp", "kps-agent-" + Guid.NewGuid().ToString("N")[..6]);
        await using var containerd = await PrivateContainerd.StartAsync(baseDir, new PrivateContainerdOptions { DeleteBaseDirectoryOnDispose = dir is null });
        Console.WriteLine($"private containerd: ready in {containerd.LastStartDuration.TotalMilliseconds:F0} ms, snapshotter {containerd.Snapshotter}");
        var manifests = Path.Combine(baseDir, "manifests");
        Directory.CreateDirectory(manifests);
        var workingSetBefore = Environment.WorkingSet;
        var timeline = new Timeline();

        var agent = new PodSyncAgent(new PodSyncAgentOptions
        {
            NodeName = "bench",
            StaticPodPath = manifests,
            RuntimeEndpoint = containerd.Endpoint,
            RootDirectory = Path.Combine(baseDir, "root"),
            PodLogsDirectory = containerd.PodLogsDir,
            FileCheckFrequency = TimeSpan.FromSeconds(20),
            StopPodsOnExit = true,
            MaxParallelSandboxCreations = maxParallel,
            Log = timeline,
            Events = timeline,
        });
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => agent.RunAsync(stop.Token));
        await using var client = containerd.CreateClient();

        if (warmup > 0)
        {
            // A few pods started and removed first, so the burst meets an agent whose code is compiled
            // (JIT, tiering) as a kubelet that has been running a while is; the cold figure is the run without.
            var cpuWarmup = Process.GetCurrentProcess().TotalProcessorTime;
            var warm = Stopwatch.StartNew();
            for (var i = 0; i < warmup; i++) await File.WriteAllTextAsync(Path.Combine(manifests, $"warmup-{i}.yaml"), Manifest($"warmup-{i}", volumes));
            while ((await client.ListContainersAsync(new ContainerFilter { State = ContainerState.Running })).Count < warmup) await Task.Delay(100);
            for (var i = 0; i < warmup; i++) File.Delete(Path.Combine(manifests, $"warmup-{i}.yaml"));
            while ((await client.ListPodSandboxesAsync()).Any()) await Task.Delay(100);
            await Task.Delay(TimeSpan.FromSeconds(2));
            Console.WriteLine($"warm-up: {warmup} pods started and removed in {warm.ElapsedMilliseconds} ms, agent CPU {(Process.GetCurrentProcess().TotalProcessorTime - cpuWarmup).TotalMilliseconds:F0} ms");
        }

        var callsBefore = agent.RuntimeOperations.Snapshot();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var jitMethodsBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
        var jitTimeBefore = System.Runtime.JitInfo.GetCompilationTime();
        var written = new Dictionary<string, long>();
        var running = new Dictionary<string, double>();
        var total = Stopwatch.StartNew();
        timeline.Start();
        for (var i = 0; i < pods; i++)
        {
            var name = $"bench-{i}";
            await File.WriteAllTextAsync(Path.Combine(manifests, name + ".yaml"), Manifest(name, volumes));
            written[$"{name}-bench"] = total.ElapsedTicks;
        }

        // Each pod's time runs from the first manifest written to the agent's "Started" event for its
        // container: the moment its StartContainer call returned, as direct-cri measures. Waiting on the
        // events costs the runtime nothing; a client polling ListContainers every 50 ms (as this
        // benchmark did before) adds ~20 calls a second to containerd's load, which direct-cri does not.
        var podNames = written.Keys.ToHashSet();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (timeline.StartedMs(podNames).Count() < pods && DateTime.UtcNow < deadline) await Task.Delay(PollMs);
        total.Stop();
        var calls = RuntimeOperationStats.Since(agent.RuntimeOperations.Snapshot(), callsBefore);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        var jitMethods = System.Runtime.JitInfo.GetCompiledMethodCount() - jitMethodsBefore;
        var jitTime = System.Runtime.JitInfo.GetCompilationTime() - jitTimeBefore;
        var durations = timeline.StartedMs(podNames).Order().ToArray();
        if (timelinePath is not null) timeline.Save(timelinePath);
        // What the events say, checked once against the runtime: each pod's container is running.
        foreach (var c in await client.ListContainersAsync(new ContainerFilter { State = ContainerState.Running }))
        {
            if (c.Labels.TryGetValue(KubeletLabels.PodName, out var pod) && podNames.Contains(pod)) running[pod] = 0;
        }
        GC.Collect();
        await Task.Delay(1000);
        var workingSet = Environment.WorkingSet;
        Console.WriteLine($"agent ({(warmup > 0 ? $"warm, after {warmup} pods" : "cold, just started")}): {running.Count}/{pods} pods, {maxParallel} pods started at once, (sandbox + 1 container) from manifest written to container started (the agent's Started event; running in CRI: {running.Count}/{pods}): total {total.ElapsedMilliseconds} ms, " +
            $"p50 {Percentile(durations, 0.50):F0} ms, p99 {Percentile(durations, 0.99):F0} ms, max {(durations.Length > 0 ? durations[^1] : 0):F0} ms; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        Console.WriteLine($"agent process working set with {running.Count} pods: {workingSet / 1024.0 / 1024.0:F0} MiB (before the agent: {workingSetBefore / 1024.0 / 1024.0:F0} MiB; managed heap {GC.GetTotalMemory(false) / 1024.0 / 1024.0:F0} MiB)");

        Console.WriteLine($"agent process CPU until all were running: {cpu.TotalMilliseconds:F0} ms; JIT: {jitMethods} methods compiled in {jitTime.TotalMilliseconds:F0} ms");
        Console.WriteLine($"agent CRI calls until all were running: {calls.Sum(c => c.Calls)} ({calls.Sum(c => c.Calls) / (double)pods:F1} per pod): " +
            string.Join(", ", calls.Select(c => $"{c.Operation} {c.Calls} ({c.Duration.TotalMilliseconds / c.Calls:F0} ms avg)")) +
            $"; PLEG events that woke no worker (already seen): {agent.PlegEventsAlreadySeen}");

        var cleanup = Stopwatch.StartNew();
        await stop.CancelAsync();
        await run;
        await agent.DisposeAsync();
        Console.WriteLine($"cleanup (StopPodsOnExit): {cleanup.ElapsedMilliseconds} ms");
        return running.Count == pods && durations.Length == pods ? 0 : 1;
    }

    private static string Manifest(string name, bool volumes = false) => volumes ? VolumesManifest(name) : $$"""
        apiVersion: v1
        kind: Pod
        metadata: {name: {{name}}}
        spec:
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: {{OciImageBuilder.BusyboxImage}}
            imagePullPolicy: IfNotPresent
            command: [sleep, "3600"]
        """;

    /// <summary>
    /// The same pod with the volumes whose set-up the mount safety work changed: an emptyDir mounted
    /// whole and through a subPath, and a downwardAPI volume.
    /// </summary>
    private static string VolumesManifest(string name) => $$"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {{name}}
          labels:
            app: bench
        spec:
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: {{OciImageBuilder.BusyboxImage}}
            imagePullPolicy: IfNotPresent
            command: [sleep, "3600"]
            volumeMounts:
            - {name: work, mountPath: /work}
            - {name: work, mountPath: /data, subPath: data}
            - {name: info, mountPath: /etc/podinfo}
          volumes:
          - name: work
            emptyDir: {}
          - name: info
            downwardAPI:
              items:
              - path: labels
                fieldRef:
                  fieldPath: metadata.labels
              - path: name
                fieldRef:
                  fieldPath: metadata.name
        """;

    internal static double Percentile(double[] sorted, double p)
        => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    /// <summary>The agent's log lines and events with the time since the first manifest was written (for --timeline).</summary>
    private sealed class Timeline : IKubeletLog, IEventRecorder
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<(double Ms, string Line)> _lines = new();
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, double> _started = new();
        private long _start = Stopwatch.GetTimestamp();

        public void Start()
        {
            _start = Stopwatch.GetTimestamp();
            _lines.Clear();
            _started.Clear();
        }

        private double Now => Stopwatch.GetElapsedTime(_start).TotalMilliseconds;

        public void Write(KubeletLogLevel level, string message) => _lines.Enqueue((Now, $"{level} {message}"));

        public void Event(k8s.Models.V1ObjectReference involvedObject, string type, string reason, string message)
        {
            var now = Now;
            _lines.Enqueue((now, $"Event {reason} {involvedObject.Name}: {message}"));
            if (reason == EventReasons.Started) _started.TryAdd(involvedObject.Name, now);
        }

        public IEnumerable<double> StartedMs(IReadOnlySet<string> pods) => _started.Where(p => pods.Contains(p.Key)).Select(p => p.Value);

        public void Save(string path) => File.WriteAllLines(path, _lines.Select(l => $"{l.Ms,9:F1} {l.Line}"));
    }
}
