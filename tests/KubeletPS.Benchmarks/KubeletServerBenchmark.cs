using System.Diagnostics;
using k8s;
using k8s.Models;
using KubeletPS.Core;
using KubeletPS.Core.Agent;
using KubeletPS.TestCluster.Runtime;

namespace KubeletPS.Benchmarks;

/// <summary>
/// The kubelet server's cost, in one run (issue #12's done-when): <c>kubectl logs</c> of 10 MiB beside the same log read
/// straight from its file, N concurrent <c>kubectl exec</c> round trips beside N CRI ExecSync calls, and the agent's idle
/// CPU with its server up beside the same agent with <c>enableServer: false</c>, the same pods running. The agent
/// (<see cref="KubeletAgent"/>) runs in this process, so the process's CPU is the agent's; the test API server runs as its
/// own process (<c>KubeletPS.TestCluster serve</c>) and is not counted, nor are kubectl's processes and containerd.
/// Every figure is printed with the load average, since the machine may be shared.
/// </summary>
internal static class KubeletServerBenchmark
{
    internal const string NodeName = "server-bench";

    public static async Task<int> RunAsync(string[] args)
    {
        var logMiB = NodeHeartbeatBenchmark.Option(args, "--log-mib", 10);
        if (logMiB is < 1 or > 90) throw new ArgumentException("--log-mib: 1 to 90 (the log must fit in one file of containerLogMaxSize 100Mi)");
        var concurrency = NodeHeartbeatBenchmark.Option(args, "--concurrency", 20);
        var rounds = NodeHeartbeatBenchmark.Option(args, "--rounds", 3);
        var idleSeconds = NodeHeartbeatBenchmark.Option(args, "--idle-seconds", 30);
        var idleRounds = NodeHeartbeatBenchmark.Option(args, "--idle-rounds", 2);
        var clusterDll = NodeHeartbeatBenchmark.OptionText(args, "--test-cluster")
            ?? throw new ArgumentException("--test-cluster PATH/KubeletPS.TestCluster.dll is required");
        var baseDir = Path.Combine("/tmp", "kps-serverb-" + Guid.NewGuid().ToString("N")[..6]);
        await using var containerd = await PrivateContainerd.StartAsync(baseDir, new PrivateContainerdOptions { DeleteBaseDirectoryOnDispose = true });
        var clusterDir = Path.Combine(baseDir, "cluster");
        var (cluster, clusterOutput) = StartTestCluster(clusterDll, clusterDir);
        using var clusterProcess = cluster;
        try
        {
            var adminConf = Path.Combine(clusterDir, "admin.conf");
            using var admin = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(adminConf));
            var host = new AgentHost(containerd, clusterDir, Path.Combine(baseDir, "agent"));
            Console.WriteLine($"load average at the start: {LoadAverage()}");

            // With the server: the log and exec figures, then its idle window.
            var bytes = logMiB * 1024L * 1024;
            var idleWith = new List<double>();
            var idleWithout = new List<double>();
            await using (var agent = await host.StartAsync(server: true))
            {
                // Lines of 64 bytes, so the output ends with a newline: containerd keeps an unfinished last line until the stream closes.
                await CreatePodAsync(admin, "talker", ["sh", "-c", $"yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopq | head -c {bytes}; sleep 3600"]);
                await CreatePodAsync(admin, "target", ["sleep", "3600"]);
                await WaitRunningAsync(admin, agent, "talker");
                await WaitRunningAsync(admin, agent, "target");
                await KubectlLogsBenchmark.RunAsync(adminConf, clusterDir, containerd.PodLogsDir, bytes, logMiB);
                await KubectlExecBenchmark.RunAsync(adminConf, clusterDir, containerd.Endpoint, concurrency, rounds);
            }
            // Idle: the same agent (same root directory, same pods, which it adopts) started afresh for each window, with and
            // without its server in turn; not the agent above, which would still be recompiling what the load made hot.
            // A first window is high whichever agent it measures (the process recompiling what the load made hot): not counted.
            await using (var agent = await host.StartAsync(server: true)) await MeasureIdleAsync(agent, true, idleSeconds, "warm-up, not counted");
            for (var round = 0; round < idleRounds; round++)
            {
                await using (var agent = await host.StartAsync(server: true)) idleWith.Add(await MeasureIdleAsync(agent, true, idleSeconds));
                await using (var agent = await host.StartAsync(server: false)) idleWithout.Add(await MeasureIdleAsync(agent, false, idleSeconds));
            }
            var with = idleWith.Average();
            var without = idleWithout.Average();
            Console.WriteLine($"idle agent CPU, mean: with the server {with:0.00}% of one core, enableServer false {without:0.00}% " +
                              $"({(without > 0 ? (with / without - 1) * 100 : 0):+0;-0}%); load average {LoadAverage()}");
            return 0;
        }
        finally
        {
            cluster.Kill(entireProcessTree: true);
            await cluster.WaitForExitAsync();
            await clusterOutput;
        }
    }

    internal static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    /// <summary>This process's CPU over <paramref name="seconds"/> of idle, as % of one core, printed.</summary>
    private static async Task<double> MeasureIdleAsync(RunningAgent agent, bool server, int seconds, string? note = null)
    {
        // Let the agent settle first: its start (sync of the adopted pods, first status, JIT and its later recompiles) is not idle.
        await Task.Delay(TimeSpan.FromSeconds(20));
        if (agent.Run.IsCompleted) await agent.Run;
        if (server != (agent.Agent.Server is not null))
            throw new InvalidOperationException($"enableServer {server}, but the agent's server is {(agent.Agent.Server is null ? "off" : "on")}");
        var what = (server ? "with the server" : "enableServer false") + (note is null ? "" : $" ({note})");
        var (cpu, wall) = await CpuOverAsync(() => Task.Delay(TimeSpan.FromSeconds(seconds)));
        var percent = cpu.TotalMilliseconds / wall.TotalMilliseconds * 100;
        Console.WriteLine($"idle agent CPU over {wall.TotalSeconds:0} s, two pods, {what}: {cpu.TotalMilliseconds:0} ms = {percent:0.00}% of one core; load average {LoadAverage()}");
        return percent;
    }

    /// <summary>The CPU this process spent and the wall time while <paramref name="work"/> ran.</summary>
    internal static async Task<(TimeSpan Cpu, TimeSpan Wall)> CpuOverAsync(Func<Task> work)
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        await work();
        wall.Stop();
        process.Refresh();
        return (process.TotalProcessorTime - cpu, wall.Elapsed);
    }

    private static Task CreatePodAsync(Kubernetes admin, string name, string[] command) =>
        admin.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new V1PodSpec
            {
                NodeName = NodeName,
                TerminationGracePeriodSeconds = 1,
                Containers = [new V1Container { Name = "main", Image = OciImageBuilder.BusyboxImage, ImagePullPolicy = "IfNotPresent", Command = command }],
            },
        }, "default");

    private static async Task WaitRunningAsync(Kubernetes admin, RunningAgent agent, string name)
    {
        var started = Stopwatch.StartNew();
        while ((await admin.CoreV1.ReadNamespacedPodAsync(name, "default")).Status?.Phase != "Running")
        {
            if (agent.Run.IsCompleted) await agent.Run;
            if (started.Elapsed > TimeSpan.FromMinutes(2)) throw new TimeoutException($"the pod {name} did not run within 2 min");
            await Task.Delay(200);
        }
    }

    /// <summary>Starts <c>KubeletPS.TestCluster serve</c>; the task drains its output until it exits.</summary>
    private static (Process Process, Task Output) StartTestCluster(string dll, string dir)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true };
        foreach (var a in new[] { dll, "serve", "--dir", dir, "--node", NodeName }) psi.ArgumentList.Add(a);
        var process = Process.Start(psi)!;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (process.StandardOutput.ReadLine() is { } line)
        {
            if (line.Contains("ready at", StringComparison.Ordinal)) return (process, process.StandardOutput.ReadToEndAsync());
            if (DateTime.UtcNow > deadline) break;
        }

        process.Kill(entireProcessTree: true);
        throw new InvalidOperationException($"the test cluster ({dll}) did not get ready within a minute");
    }

    /// <summary>One agent of the run: <see cref="AgentHost.StartAsync"/> starts it, disposing stops it (its pods keep running).</summary>
    private sealed class RunningAgent(KubeletAgent agent, Task run, CancellationTokenSource stop) : IAsyncDisposable
    {
        public KubeletAgent Agent { get; } = agent;

        public Task Run { get; } = run;

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            await Run.WaitAsync(TimeSpan.FromMinutes(2));
            await Agent.DisposeAsync();
            stop.Dispose();
        }
    }

    /// <summary>The agent's files: one root directory and node identity for every start, a config with and one without the server.</summary>
    private sealed class AgentHost(PrivateContainerd containerd, string clusterDir, string dir)
    {
        public async Task<RunningAgent> StartAsync(bool server)
        {
            Directory.CreateDirectory(dir);
            var config = Path.Combine(dir, server ? "config-server.yaml" : "config-no-server.yaml");
            // The API server reaches the kubelet with its kubelet-client certificate (cluster CA); kubelet asks it for a
            // SubjectAccessReview per request.
            File.WriteAllText(config, "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n" +
                $"enableServer: {(server ? "true" : "false")}\n" +
                // One log file: the 10 MiB are read from where the runtime wrote them, not across a rotation.
                "containerLogMaxSize: 100Mi\n" +
                $"authentication:\n  x509:\n    clientCAFile: {Path.Combine(clusterDir, "ca.crt")}\n" +
                $"authorization:\n  mode: {Environment.GetEnvironmentVariable("KUBELETPS_BENCH_AUTHZ") ?? "Webhook"}\n");
            var agent = await KubeletAgent.CreateAsync(new KubeletAgentRequest
            {
                Node = new NodeAgentRequest
                {
                    KubeconfigPath = Path.Combine(clusterDir, $"node-{NodeName}.conf"),
                    ConfigPath = config,
                    NodeName = NodeName,
                    NodeIp = "127.0.0.1",
                    RuntimeEndpoint = containerd.Endpoint,
                    RootDirectory = Path.Combine(dir, "root"),
                },
                PodLogDirectory = containerd.PodLogsDir,
                StaticPodPath = "",
                ServerPort = 0,
                HealthzPort = -1,
                // The pods stay for the next agent of the run; the private containerd removes them at the end.
                StopPodsOnExit = false,
            }, new NullKubeletLog(), CancellationToken.None);
            var stop = new CancellationTokenSource();
            var run = Task.Run(() => agent.RunAsync(null, null, stop.Token));
            return new RunningAgent(agent, run, stop);
        }
    }
}
