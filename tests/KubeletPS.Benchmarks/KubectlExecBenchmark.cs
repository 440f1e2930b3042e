using System.Diagnostics;
using k8s;
using k8s.Models;
using KubeletPS.Core;
using KubeletPS.Core.Agent;
using KubeletPS.Core.Runtime;
using KubeletPS.TestCluster.Runtime;

namespace KubeletPS.Benchmarks;

/// <summary>
/// N concurrent <c>kubectl exec POD -- true</c> round trips (kubectl 1.32 → test API server → the agent's kubelet
/// server → containerd's streaming server; each one a refused WebSocket attempt then SPDY) against the same N
/// commands straight through CRI ExecSync, in one run: wall time of each batch and the CPU this process (the
/// agent, and the benchmark's own CRI client) spent on it. The test API server runs as its own process
/// (<c>KubeletPS.TestCluster serve</c>) so its CPU is not counted.
/// </summary>
internal static class KubectlExecBenchmark
{
    private const string NodeName = "exec-bench";

    public static async Task<int> RunAsync(string[] args)
    {
        var concurrency = NodeHeartbeatBenchmark.Option(args, "--concurrency", 20);
        var rounds = NodeHeartbeatBenchmark.Option(args, "--rounds", 3);
        var clusterDll = args.SkipWhile(a => a != "--test-cluster").Skip(1).FirstOrDefault()
            ?? throw new ArgumentException("--test-cluster PATH/KubeletPS.TestCluster.dll is required");
        var baseDir = Path.Combine("/tmp", "kps-execb-" + Guid.NewGuid().ToString("N")[..6]);
        await using var containerd = await PrivateContainerd.StartAsync(baseDir, new PrivateContainerdOptions { DeleteBaseDirectoryOnDispose = true });
        var clusterDir = Path.Combine(baseDir, "cluster");
        var (cluster, clusterOutput) = StartTestCluster(clusterDll, clusterDir);
        using var clusterProcess = cluster;
        try
        {
            var dir = Path.Combine(baseDir, "agent");
            Directory.CreateDirectory(dir);
            var config = Path.Combine(dir, "config.yaml");
            // The API server reaches the kubelet with its kubelet-client certificate (cluster CA); kubelet asks it
            // for a SubjectAccessReview per request.
            File.WriteAllText(config, "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n" +
                $"authentication:\n  x509:\n    clientCAFile: {Path.Combine(clusterDir, "ca.crt")}\n" +
                $"authorization:\n  mode: {Environment.GetEnvironmentVariable("KUBELETPS_BENCH_AUTHZ") ?? "Webhook"}\n");
            var adminConf = Path.Combine(clusterDir, "admin.conf");
            using var admin = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(adminConf));
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
                StopPodsOnExit = true,
            }, new NullKubeletLog(), CancellationToken.None);
            using var stop = new CancellationTokenSource();
            var run = Task.Run(() => agent.RunAsync(null, null, stop.Token));
            try
            {
                await admin.CoreV1.CreateNamespacedPodAsync(new V1Pod
                {
                    Metadata = new V1ObjectMeta { Name = "target" },
                    Spec = new V1PodSpec
                    {
                        NodeName = NodeName,
                        TerminationGracePeriodSeconds = 1,
                        Containers = [new V1Container { Name = "main", Image = OciImageBuilder.BusyboxImage, ImagePullPolicy = "IfNotPresent", Command = ["sleep", "3600"] }],
                    },
                }, "default");
                var started = Stopwatch.StartNew();
                while ((await admin.CoreV1.ReadNamespacedPodAsync("target", "default")).Status?.Phase != "Running")
                {
                    if (run.IsCompleted) await run;
                    if (started.Elapsed > TimeSpan.FromMinutes(2)) throw new TimeoutException("the pod did not run within 2 min");
                    await Task.Delay(200);
                }

                using var cri = new CriRuntimeClient(containerd.Endpoint);
                var containerId = (await cri.ListContainersAsync(new ContainerFilter { State = ContainerState.Running })).Single(c => c.Name == "main").Id;
                Console.WriteLine($"{concurrency} concurrent round trips of `true`, {rounds} rounds; load average {File.ReadAllText("/proc/loadavg").Trim()}");
                for (var round = 1; round <= rounds; round++)
                {
                    var kubectl = await MeasureAsync(() => KubectlExecAsync(adminConf, clusterDir), concurrency);
                    var direct = await MeasureAsync(async () =>
                    {
                        var result = await cri.ExecSyncAsync(containerId, ["true"], TimeSpan.FromSeconds(30));
                        if (result.ExitCode != 0) throw new InvalidOperationException($"ExecSync true exited {result.ExitCode}");
                    }, concurrency);
                    Console.WriteLine($"round {round}: kubectl exec {kubectl.Wall.TotalMilliseconds,7:F0} ms wall, agent CPU {kubectl.Cpu.TotalMilliseconds,6:F0} ms | " +
                                      $"CRI ExecSync {direct.Wall.TotalMilliseconds,6:F0} ms wall, CPU {direct.Cpu.TotalMilliseconds,5:F0} ms | " +
                                      $"ratio wall {kubectl.Wall / direct.Wall:F1}x, CPU {kubectl.Cpu.TotalMilliseconds / Math.Max(1, direct.Cpu.TotalMilliseconds):F1}x");
                }
                Console.WriteLine($"load average after: {File.ReadAllText("/proc/loadavg").Trim()}");
                return 0;
            }
            finally
            {
                await stop.CancelAsync();
                await run.WaitAsync(TimeSpan.FromMinutes(2));
                await agent.DisposeAsync();
            }
        }
        finally
        {
            cluster.Kill(entireProcessTree: true);
            await cluster.WaitForExitAsync();
            await clusterOutput;
        }
    }

    private static async Task<(TimeSpan Wall, TimeSpan Cpu)> MeasureAsync(Func<Task> call, int concurrency)
    {
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(call)));
        wall.Stop();
        process.Refresh();
        return (wall.Elapsed, process.TotalProcessorTime - cpu);
    }

    private static async Task KubectlExecAsync(string kubeconfig, string cacheDir)
    {
        var psi = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--kubeconfig", kubeconfig, "exec", "target", "--", "true" }) psi.ArgumentList.Add(a);
        psi.Environment["KUBECACHEDIR"] = Path.Combine(cacheDir, "kubectl-cache");
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"kubectl exec exited {process.ExitCode}: {await stderr}");
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
}
