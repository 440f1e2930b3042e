using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using KubeletPS.Core;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Runtime.Remote;
using KubeletPS.TestCluster.Runtime;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Benchmarks;

/// <summary>
/// The Kubernetes pod-startup SLO for pods from the API server: the whole kubelet (<see cref="KubeletAgent"/>)
/// in this process against an in-process test API server and a private containerd. Once the node is Ready,
/// N pods bound to it are created at once; per pod, the latency runs from its creation to the moment an
/// admin watch on pods sees phase Running with every container running (image already present, as the
/// SLO excludes pulls). Also the API requests during the run, and the process's working set and CPU
/// over a steady window with the N pods running. The process holds the test API server and the watch
/// as well as the agent, so its figures are an upper bound for the agent alone.
/// </summary>
internal static class ApiPodStartupBenchmark
{
    private const string NodeName = "bench-node";
    private const string AgentUser = "system:node:" + NodeName;

    public static async Task<int> RunAsync(string[] args)
    {
        var pods = NodeHeartbeatBenchmark.Option(args, "--pods", 50);
        var steadySeconds = NodeHeartbeatBenchmark.Option(args, "--steady-seconds", 30);
        // Pods created per second; 0 creates them all at once (a burst). The SLO's own tests create
        // pods at a steady rate, so each pod's latency is the node's, not the queue's.
        var rate = NodeHeartbeatBenchmark.Option(args, "--rate", 0);
        var baseDir = Path.Combine("/tmp", "kps-apipods-" + Guid.NewGuid().ToString("N")[..6]);
        await using var containerd = await PrivateContainerd.StartAsync(baseDir, new PrivateContainerdOptions { DeleteBaseDirectoryOnDispose = true });
        await using var server = await TestApiServer.StartAsync();
        Console.WriteLine($"private containerd ready in {containerd.LastStartDuration.TotalMilliseconds:F0} ms; test API server on {server.Url}");

        var dir = Path.Combine(baseDir, "agent");
        Directory.CreateDirectory(dir);
        var kubeconfig = Path.Combine(dir, "kubelet.conf");
        server.WriteNodeKubeconfig(kubeconfig, NodeName);
        var config = Path.Combine(dir, "config.yaml");
        File.WriteAllText(config, "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nclusterDomain: cluster.local\n");
        var adminConfig = Path.Combine(dir, "admin.conf");
        server.WriteAdminKubeconfig(adminConfig);
        using var admin = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(adminConfig));

        var agent = await KubeletAgent.CreateAsync(new KubeletAgentRequest
        {
            Node = new NodeAgentRequest
            {
                KubeconfigPath = kubeconfig,
                ConfigPath = config,
                NodeName = NodeName,
                NodeIp = "10.20.30.40",
                RuntimeEndpoint = containerd.Endpoint,
                RootDirectory = Path.Combine(dir, "root"),
            },
            PodLogDirectory = containerd.PodLogsDir,
            StaticPodPath = "",
            // A free port: other agents (and kubelets) on this machine may hold 10250 and 10248.
            ServerPort = 0,
            HealthzPort = -1,
            StopPodsOnExit = true,
        }, new NullKubeletLog(), CancellationToken.None);
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => agent.RunAsync(null, null, stop.Token));
        var exitCode = 1;
        try
        {
            var ready = Stopwatch.StartNew();
            while (!NodeIsReady(server))
            {
                if (run.IsCompleted) await run;
                if (ready.Elapsed > TimeSpan.FromMinutes(2)) throw new TimeoutException("the node did not become Ready in 2 min");
                await Task.Delay(100);
            }
            Console.WriteLine($"node Ready after {ready.Elapsed.TotalSeconds:0.0} s");
            exitCode = await MeasureAsync(server, admin, agent, pods, rate, steadySeconds);
        }
        finally
        {
            var cleanup = Stopwatch.StartNew();
            await stop.CancelAsync();
            await run.WaitAsync(TimeSpan.FromMinutes(3));
            await agent.DisposeAsync();
            Console.WriteLine($"cleanup (StopPodsOnExit): {cleanup.ElapsedMilliseconds} ms");
        }
        return exitCode;
    }

    private static async Task<int> MeasureAsync(TestApiServer server, Kubernetes admin, KubeletAgent agent, int pods, int rate, int steadySeconds)
    {
        var created = new ConcurrentDictionary<string, long>();
        var running = new ConcurrentDictionary<string, double>();
        var rejected = new ConcurrentDictionary<string, string>();
        var allRunning = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var watchStop = new CancellationTokenSource();

        // The watch is opened before the first pod exists, so it sees every change.
        var list = await admin.CoreV1.ListNamespacedPodAsync("default");
        var watch = Task.Run(() => WatchPodsAsync(admin, list.Metadata.ResourceVersion, pod =>
        {
            var name = pod.Metadata.Name;
            if (!created.TryGetValue(name, out var start) || running.ContainsKey(name)) return;
            if (pod.Status?.Phase == "Failed") rejected.TryAdd(name, $"{pod.Status.Reason}: {pod.Status.Message}");
            else if (IsRunning(pod)) running.TryAdd(name, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            if (running.Count + rejected.Count == pods) allRunning.TrySetResult();
        }, watchStop.Token));
        await Task.Delay(500);

        server.RequestLog.Clear();
        var total = Stopwatch.StartNew();
        for (var i = 0; i < pods; i++)
        {
            if (rate > 0 && TimeSpan.FromSeconds(i / (double)rate) - total.Elapsed is { } wait && wait > TimeSpan.Zero) await Task.Delay(wait);
            var name = $"bench-{i}";
            created[name] = Stopwatch.GetTimestamp();
            server.Store.Create("pods", Pod(name));
        }
        var timeout = TimeSpan.FromMinutes(5);
        if (await Task.WhenAny(allRunning.Task, Task.Delay(timeout)) != allRunning.Task)
            Console.WriteLine($"timed out after {timeout.TotalMinutes} min");
        total.Stop();
        var requests = server.RequestLog.Entries;

        var durations = running.Values.Order().ToArray();
        Console.WriteLine($"api-pods: {running.Count}/{pods} pods {(rate > 0 ? $"created at {rate}/s" : "created at once")}, Running as seen by a watch, {rejected.Count} rejected; total {total.ElapsedMilliseconds} ms; " +
            $"pod startup min {(durations.Length > 0 ? durations[0] : 0):F0} ms, p50 {AgentPodStartup.Percentile(durations, 0.50):F0} ms, p99 {AgentPodStartup.Percentile(durations, 0.99):F0} ms, " +
            $"max {(durations.Length > 0 ? durations[^1] : 0):F0} ms; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        foreach (var (name, reason) in rejected.OrderBy(p => p.Key).Take(5)) Console.WriteLine($"  rejected {name}: {reason}");

        var agentRequests = requests.Where(r => r.User == AgentUser).ToList();
        Console.WriteLine($"API requests by the agent from the first create to the last pod Running ({agentRequests.Count} in all, " +
                          $"{(running.Count == 0 ? 0 : agentRequests.Count / (double)running.Count):0.00} per pod started):");
        foreach (var g in agentRequests.GroupBy(r => $"{r.Verb} {r.Resource}").OrderBy(g => g.Key))
            Console.WriteLine($"  {g.Key,-28} {g.Count(),5}  ({(running.Count == 0 ? 0 : g.Count() / (double)running.Count):0.00}/pod)");
        Console.WriteLine($"  (other users: {requests.Count - agentRequests.Count} requests, the benchmark's own watch)");

        // Steady state with the N pods running: CPU of this process as % of one core, and its working set.
        server.RequestLog.Clear();
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpuBefore = process.TotalProcessorTime;
        // Figures that do not depend on the machine's load: CRI calls by RPC (the node half's client, which also
        // serves stats and eviction, and the pod engine's own), bytes allocated and collections.
        var nodeCriBefore = agent.Context.Runtime.Operations.Snapshot();
        var podCriBefore = agent.Pods?.RuntimeOperations.Snapshot() ?? [];
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        var gcBefore = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        Console.WriteLine($"steady window starts (pid {Environment.ProcessId}, load average {File.ReadAllText("/proc/loadavg").Trim()})");
        var window = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(steadySeconds));
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpuBefore;
        window.Stop();
        var minutes = window.Elapsed.TotalMinutes;
        var allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;
        var gcInfo = GC.GetGCMemoryInfo();
        Console.WriteLine($"steady-state counts (independent of load; load average at the end {File.ReadAllText("/proc/loadavg").Trim()}):");
        Console.WriteLine($"  allocated {allocated / 1048576.0 / minutes:0.0} MiB/min; collections gen0 {GC.CollectionCount(0) - gcBefore.Item1}, gen1 {GC.CollectionCount(1) - gcBefore.Item2}, " +
                          $"gen2 {GC.CollectionCount(2) - gcBefore.Item3}; heap after last GC {gcInfo.HeapSizeBytes / 1048576.0:0.0} MiB, committed {gcInfo.TotalCommittedBytes / 1048576.0:0.0} MiB");
        foreach (var (who, before, now) in new[] { ("node/stats", nodeCriBefore, agent.Context.Runtime.Operations.Snapshot()), ("pods", podCriBefore, agent.Pods?.RuntimeOperations.Snapshot() ?? []) })
        {
            var since = RuntimeOperationStats.Since(now, before);
            Console.WriteLine($"  CRI calls per minute, {who} client: {since.Sum(t => t.Calls) / minutes:0.0}");
            foreach (var t in since) Console.WriteLine($"    {t.Operation,-28} {t.Calls / minutes,8:0.0}/min");
        }
        var steady = server.RequestLog.CountsByVerbAndResource();
        Console.WriteLine($"steady state with {running.Count} pods over {window.Elapsed.TotalSeconds:0} s: CPU {cpu.TotalMilliseconds:F0} ms = " +
                          $"{cpu.TotalMilliseconds / window.Elapsed.TotalMilliseconds * 100:0.0}% of one core; working set {process.WorkingSet64 / 1048576.0:0} MiB " +
                          $"(managed heap {GC.GetTotalMemory(false) / 1048576.0:0} MiB; includes the in-process test API server)");
        foreach (var (key, count) in steady.OrderBy(p => p.Key)) Console.WriteLine($"  {key,-28} {count,5}");

        await watchStop.CancelAsync();
        try { await watch; } catch (OperationCanceledException) { }
        return running.Count == pods ? 0 : 1;
    }

    /// <summary>A plain watch, re-opened from the last resource version when the server ends it.</summary>
    private static async Task WatchPodsAsync(Kubernetes admin, string resourceVersion, Action<V1Pod> onPod, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await foreach (var (type, pod) in admin.CoreV1.WatchListNamespacedPodAsync("default", resourceVersion: resourceVersion,
                               allowWatchBookmarks: true, cancellationToken: cancellationToken))
            {
                resourceVersion = pod.Metadata.ResourceVersion ?? resourceVersion;
                if (type is WatchEventType.Added or WatchEventType.Modified) onPod(pod);
            }
        }
    }

    private static bool IsRunning(V1Pod pod) =>
        pod.Status?.Phase == "Running"
        && pod.Status.ContainerStatuses is { } statuses
        && statuses.Count == pod.Spec.Containers.Count
        && statuses.All(s => s.State?.Running is not null);

    private static bool NodeIsReady(TestApiServer server) =>
        server.Store.Get("nodes", null, NodeName)?["status"]?["conditions"]?.AsArray()
            .Any(c => (string?)c?["type"] == "Ready" && (string?)c?["status"] == "True") == true;

    private static JsonObject Pod(string name) => JsonNode.Parse("""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME","namespace":"default"},
         "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":2,"restartPolicy":"Always",
           "containers":[{"name":"main","image":"IMAGE","imagePullPolicy":"IfNotPresent",
             "command":["sleep","3600"],"resources":{"requests":{"memory":"8Mi","cpu":"5m"}}}]}}
        """.Replace("NAME", name).Replace("NODE", NodeName).Replace("IMAGE", OciImageBuilder.BusyboxImage))!.AsObject();
}
