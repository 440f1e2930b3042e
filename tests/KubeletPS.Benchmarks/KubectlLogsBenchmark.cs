using System.Diagnostics;
using KubeletPS.Core.Runtime.Logs;
using KubeletPS.Core.Server.Endpoints;

namespace KubeletPS.Benchmarks;

/// <summary>
/// <c>kubectl logs</c> of a pod that wrote N MiB (kubectl 1.32 → test API server pods/log → the agent's kubelet server
/// /containerLogs → its CRI log reader) beside the same log read straight from its file: <c>cat</c> of the CRI file, and
/// this process reading and decoding it as the server does (<see cref="ContainerLogReader"/>, <see cref="ContainerLogOutput"/>).
/// Wall time and the CPU of this process (the agent) for each.
/// </summary>
internal static class KubectlLogsBenchmark
{
    public static async Task RunAsync(string adminConf, string cacheDir, string podLogDir, long bytes, int logMiB)
    {
        var file = await WaitForLogAsync(podLogDir, "talker", bytes);
        var output = Path.Combine(cacheDir, "kubectl-logs.txt");
        var (kubectlCpu, kubectlWall) = await KubeletServerBenchmark.CpuOverAsync(() => KubectlLogsAsync(adminConf, cacheDir, output));
        var received = new FileInfo(output).Length;
        if (received != bytes) Console.WriteLine($"warning: kubectl logs returned {received} bytes, expected {bytes}");
        File.Delete(output);
        var (_, catWall) = await KubeletServerBenchmark.CpuOverAsync(() => CatAsync(file));
        var (readCpu, readWall) = await KubeletServerBenchmark.CpuOverAsync(() => ReadDecodedAsync(file));
        Console.WriteLine($"kubectl logs of {logMiB} MiB through the API server and the kubelet server: {kubectlWall.TotalSeconds:0.00} s, agent CPU {kubectlCpu.TotalSeconds:0.00} s; " +
                          $"load average {KubeletServerBenchmark.LoadAverage()}");
        Console.WriteLine($"cat of the CRI log file ({new FileInfo(file).Length / 1048576.0:0.0} MiB with its CRI prefixes): {catWall.TotalSeconds:0.00} s; " +
                          $"read and decoded in this process as the server does: {readWall.TotalSeconds:0.00} s, CPU {readCpu.TotalSeconds:0.00} s; load average {KubeletServerBenchmark.LoadAverage()}");
        Console.WriteLine($"ratio kubectl logs / cat: {kubectlWall / catWall:0.0}x wall; kubectl logs / in-process read: {kubectlWall / readWall:0.0}x wall, " +
                          $"{kubectlCpu.TotalMilliseconds / Math.Max(1, readCpu.TotalMilliseconds):0.0}x agent CPU");
    }

    /// <summary>The pod's CRI log file once it holds its N bytes of output (with the CRI prefixes it is longer).</summary>
    private static async Task<string> WaitForLogAsync(string podLogDir, string pod, long bytes)
    {
        var started = Stopwatch.StartNew();
        while (true)
        {
            var file = Directory.EnumerateDirectories(podLogDir, $"default_{pod}_*").SelectMany(d => Directory.EnumerateFiles(d, "0.log", SearchOption.AllDirectories))
                .FirstOrDefault(f => new FileInfo(f).Length >= bytes);
            if (file is not null)
            {
                // The file grows until the runtime has copied the last of the output.
                long length;
                do
                {
                    length = new FileInfo(file).Length;
                    await Task.Delay(1000);
                } while (new FileInfo(file).Length != length);
                return file;
            }
            if (started.Elapsed > TimeSpan.FromMinutes(2)) throw new TimeoutException($"the pod {pod} did not write {bytes} bytes to its log within 2 min");
            await Task.Delay(500);
        }
    }

    private static async Task KubectlLogsAsync(string kubeconfig, string cacheDir, string output)
    {
        var psi = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--kubeconfig", kubeconfig, "logs", "talker" }) psi.ArgumentList.Add(a);
        psi.Environment["KUBECACHEDIR"] = Path.Combine(cacheDir, "kubectl-cache");
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await using (var file = File.Create(output)) await process.StandardOutput.BaseStream.CopyToAsync(file);
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"kubectl logs exited {process.ExitCode}: {await stderr}");
    }

    private static async Task CatAsync(string file)
    {
        var psi = new ProcessStartInfo("cat") { RedirectStandardOutput = true };
        psi.ArgumentList.Add(file);
        using var process = Process.Start(psi)!;
        await process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        await process.WaitForExitAsync();
    }

    private static async Task ReadDecodedAsync(string file)
    {
        var output = new ContainerLogOutput(new ContainerLogRequest(false, false, false, null, null, null));
        await foreach (var entry in ContainerLogReader.ReadAsync(file)) await Stream.Null.WriteAsync(output.Next(entry));
    }
}
