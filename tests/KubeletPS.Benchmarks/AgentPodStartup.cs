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
        var trace = false;
        var cgroups = false;
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
                case "--trace": trace = bool.Parse(args[i + 1]); break;
                case "--cgroups": cgroups = bool.Parse(args[i + 1]); break;
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
        // --trace: every CRI call the agent makes timed by pod, through a proxy over its own CRI client.
        var criTrace = trace ? new CriTrace() : null;
        await using var tracedClient = trace ? containerd.CreateClient() : null;

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
            // --cgroups: the QoS and pod cgroups as the shipped agent creates them (cgroupfs, under /kubepods).
            Cgroups = cgroups ? new KubeletPS.Core.Cm.ContainerManagerOptions() : null,
            RuntimeServices = criTrace is null ? null : (criTrace.Wrap<IRuntimeService>(tracedClient!), criTrace.Wrap<IImageService>(tracedClient!)),
        });
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => agent.RunAsync(stop.Token));
        await using var client = containerd.CreateClient();
        // As the issue measured it: the agent already running (its start-up done: the runtime checked, the
        // first relist made) when the manifests arrive, not starting beside them.
        var ready = Stopwatch.StartNew();
        while (agent.LastRelist is null && ready.Elapsed < TimeSpan.FromMinutes(1)) await Task.Delay(20);
        await Task.Delay(TimeSpan.FromSeconds(1));
        Console.WriteLine($"agent ready (first relist) {ready.ElapsedMilliseconds - 1000} ms after it was started");

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
        var burstBegin = Stopwatch.GetTimestamp();
        timeline.Start();
        criTrace?.Start();
        // Written beside the folder first, then moved into it one after another (as the issue's burst: 30
        // manifests moved in at once); each pod's time runs from the first move.
        var staging = Directory.CreateDirectory(Path.Combine(baseDir, "staging")).FullName;
        for (var i = 0; i < pods; i++) await File.WriteAllTextAsync(Path.Combine(staging, $"bench-{i}.yaml"), Manifest($"bench-{i}", volumes));
        total.Restart();
        burstBegin = Stopwatch.GetTimestamp();
        timeline.Start();
        criTrace?.Start();
        for (var i = 0; i < pods; i++)
        {
            var name = $"bench-{i}";
            File.Move(Path.Combine(staging, name + ".yaml"), Path.Combine(manifests, name + ".yaml"));
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
        // For `perf record -k CLOCK_MONOTONIC` then `perf script --time begin,end`: Stopwatch is CLOCK_MONOTONIC here.
        Console.WriteLine($"burst window (CLOCK_MONOTONIC s): {burstBegin / (double)Stopwatch.Frequency:F6},{Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency:F6}");
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

        var agentCalls = criTrace?.Calls;
        if (agentCalls is not null)
        {
            var writtenMs = written.ToDictionary(w => w.Key, w => Stopwatch.GetElapsedTime(0, w.Value).TotalMilliseconds);
            foreach (var line in CriTrace.PodLines(agentCalls, writtenMs)) Console.WriteLine($"trace agent {line}");
            Console.WriteLine($"trace agent summary: {CriTrace.Summary(agentCalls)}");
        }

        var cleanup = Stopwatch.StartNew();
        await stop.CancelAsync();
        await run;
        await agent.DisposeAsync();
        Console.WriteLine($"cleanup (StopPodsOnExit): {cleanup.ElapsedMilliseconds} ms");
        if (criTrace is not null) await ReplayAsync(criTrace, tracedClient!, maxParallel, containerd.PodLogsDir);
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

    /// <summary>
    /// The agent's own sandbox and container requests sent again by direct calls, <paramref name="parallel"/>
    /// pods at a time (sandbox, create, start: as direct-cri), then the minimal requests direct-cri sends,
    /// on the same runtime: how much of the agent's time is its requests' and how much its own.
    /// </summary>
    private static async Task ReplayAsync(CriTrace trace, CriRuntimeClient client, int parallel, string podLogs)
    {
        var recorded = trace.Requests.Values.Where(r => r.Container is not null).ToList();
        if (recorded.Count > 0)
        {
            Console.WriteLine($"the agent's sandbox request, one pod: {System.Text.Json.JsonSerializer.Serialize(recorded[0].Sandbox)}");
            Console.WriteLine($"the agent's container request, one pod: {System.Text.Json.JsonSerializer.Serialize(recorded[0].Container)}");
        }
        var variants = new List<(string, Func<(PodSandboxSpec Sandbox, ContainerSpec Container)>[])>
        {
            ("agent's requests", recorded.Select(r => (Func<(PodSandboxSpec, ContainerSpec)>)(() => (Fresh(r.Sandbox, podLogs), r.Container!))).ToArray()),
            ("minimal requests", recorded.Select(r => (Func<(PodSandboxSpec, ContainerSpec)>)(() => Minimal(r.Sandbox.Name, podLogs))).ToArray()),
        };
        if (Environment.GetEnvironmentVariable("KPS_BENCH_ABLATION") == "1")
        {
            variants.Add(("agent's sandbox, minimal container", recorded.Select(r => (Func<(PodSandboxSpec, ContainerSpec)>)(() => (Fresh(r.Sandbox, podLogs), Minimal(r.Sandbox.Name, podLogs).Container))).ToArray()));
            variants.Add(("minimal sandbox, agent's container", recorded.Select(r => (Func<(PodSandboxSpec, ContainerSpec)>)(() => (Minimal(r.Sandbox.Name, podLogs).Sandbox, r.Container!))).ToArray()));
            variants.Add(("agent's, container without mounts", recorded.Select(r => (Func<(PodSandboxSpec, ContainerSpec)>)(() => (Fresh(r.Sandbox, podLogs), r.Container! with { Mounts = [] }))).ToArray()));
            variants.Add(("agent's, container without resources", recorded.Select(r => (Func<(PodSandboxSpec, ContainerSpec)>)(() => (Fresh(r.Sandbox, podLogs), r.Container! with { Resources = null }))).ToArray()));
            variants.Add(("agent's, sandbox without DNS", recorded.Select(r => (Func<(PodSandboxSpec, ContainerSpec)>)(() => (Fresh(r.Sandbox, podLogs) with { Dns = null }, r.Container!))).ToArray()));
            variants.Add(("agent's requests again", variants[0].Item2));
            variants.Add(("minimal requests again", variants[1].Item2));
        }
        foreach (var (label, makers) in variants)
        {
            var requests = makers.Select(m => m()).ToList();
            var runtime = trace.Wrap<IRuntimeService>(client);
            trace.Start();
            var started = new System.Collections.Concurrent.ConcurrentBag<double>();
            var sandboxes = new System.Collections.Concurrent.ConcurrentBag<string>();
            await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (r, ct) =>
            {
                var id = await runtime.RunPodSandboxAsync(r.Sandbox, ct);
                sandboxes.Add(id);
                var container = await runtime.CreateContainerAsync(id, r.Container, r.Sandbox, ct);
                await runtime.StartContainerAsync(container, ct);
                started.Add(trace.Now);
            });
            var s = started.Order().ToArray();
            Console.WriteLine($"replay, {label}, {parallel} at a time: p50 {Percentile(s, 0.5):F0} ms, last {s[^1]:F0} ms; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
            Console.WriteLine($"replay, {label}: {CriTrace.Summary(trace.Calls)}");
            foreach (var id in sandboxes)
            {
                await client.StopPodSandboxAsync(id);
                await client.RemovePodSandboxAsync(id);
            }
        }
    }

    /// <summary>The same sandbox request under a new UID (and so a new log directory), so nothing of the agent's run is reused.</summary>
    private static PodSandboxSpec Fresh(PodSandboxSpec sandbox, string podLogs)
    {
        var uid = Guid.NewGuid().ToString();
        var logs = PodSandboxSpec.DefaultLogDirectory(podLogs, sandbox.Namespace, sandbox.Name, uid);
        Directory.CreateDirectory(logs);
        return sandbox with { Uid = uid, LogDirectory = logs, Labels = new Dictionary<string, string>(sandbox.Labels) { [KubeletLabels.PodUid] = uid } };
    }

    private static (PodSandboxSpec Sandbox, ContainerSpec Container) Minimal(string name, string podLogs)
    {
        var uid = Guid.NewGuid().ToString();
        return (new PodSandboxSpec
        {
            Name = name,
            Namespace = "default",
            Uid = uid,
            Hostname = name,
            LogDirectory = PodSandboxSpec.DefaultLogDirectory(podLogs, "default", name, uid),
            Labels = new Dictionary<string, string> { ["kubeletps.bench"] = "direct-cri" },
        }, new ContainerSpec { Name = "main", Image = OciImageBuilder.BusyboxImage, Command = ["sleep", "3600"], LogPath = ContainerSpec.DefaultLogPath("main", 0) });
    }

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
