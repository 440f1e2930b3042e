using System.Diagnostics;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.Benchmarks;

/// <summary>
/// N concurrent <c>kubectl exec target -- true</c> round trips beside the same N commands straight through CRI ExecSync, per
/// round: wall time of each batch and the CPU this process (the agent, and the benchmark's own CRI client) spent on it.
/// kubectl 1.32 opens one WebSocket (v5.channel.k8s.io) to the test API server, which translates it to SPDY
/// (v4.channel.k8s.io) to the agent's kubelet server, which proxies it to containerd's streaming server.
/// </summary>
internal static class KubectlExecBenchmark
{
    public static async Task RunAsync(string adminConf, string cacheDir, string runtimeEndpoint, int concurrency, int rounds)
    {
        using var cri = new CriRuntimeClient(runtimeEndpoint);
        var containerId = (await cri.ListContainersAsync(new ContainerFilter { State = ContainerState.Running }))
            .Single(c => c.Labels.TryGetValue("io.kubernetes.pod.name", out var pod) && pod == "target").Id;
        Console.WriteLine($"{concurrency} concurrent exec round trips of `true`, {rounds} rounds; load average {KubeletServerBenchmark.LoadAverage()}");
        for (var round = 1; round <= rounds; round++)
        {
            var kubectl = await MeasureAsync(() => KubectlExecAsync(adminConf, cacheDir), concurrency);
            var direct = await MeasureAsync(async () =>
            {
                var result = await cri.ExecSyncAsync(containerId, ["true"], TimeSpan.FromSeconds(30));
                if (result.ExitCode != 0) throw new InvalidOperationException($"ExecSync true exited {result.ExitCode}");
            }, concurrency);
            Console.WriteLine($"round {round}: kubectl exec {kubectl.Wall.TotalMilliseconds,7:F0} ms wall, agent CPU {kubectl.Cpu.TotalMilliseconds,6:F0} ms | " +
                              $"CRI ExecSync {direct.Wall.TotalMilliseconds,6:F0} ms wall, CPU {direct.Cpu.TotalMilliseconds,5:F0} ms | " +
                              $"ratio wall {kubectl.Wall / direct.Wall:F1}x, CPU {kubectl.Cpu.TotalMilliseconds / Math.Max(1, direct.Cpu.TotalMilliseconds):F1}x; " +
                              $"load average {KubeletServerBenchmark.LoadAverage()}");
        }
    }

    private static async Task<(TimeSpan Wall, TimeSpan Cpu)> MeasureAsync(Func<Task> call, int concurrency)
    {
        var (cpu, wall) = await KubeletServerBenchmark.CpuOverAsync(() => Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(call))));
        return (wall, cpu);
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
}
