using System.Diagnostics;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Benchmarks;

/// <summary>
/// Steady-state cost of the node heartbeat: Start-KubeletNodeHeartbeat runs in its own pwsh
/// against the test API server (default intervals: lease 40 s renewed every 10 s, status checked
/// every 10 s and reported every 5 min); after registration the API requests are counted for
/// the measurement window and the pwsh process's resident memory is sampled.
/// </summary>
internal static class NodeHeartbeatBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = Option(args, "--seconds", 120);
        var repo = OptionText(args, "--repo") ?? FindRepoRoot();
        var module = OptionText(args, "--module") ?? Path.Combine(repo, "out/KubeletPS/KubeletPS.psd1");
        var pwsh = FindPwshDll();
        var dir = Directory.CreateTempSubdirectory("kubeletps-bench-hb-").FullName;
        await using var server = await TestApiServer.StartAsync();
        var kubeconfig = Path.Combine(dir, "node.conf");
        server.WriteNodeKubeconfig(kubeconfig, "bench-node");

        var script = $"Import-Module '{module}'; Start-KubeletNodeHeartbeat -KubeconfigPath '{kubeconfig}' -NodeName bench-node " +
                     $"-RuntimeEndpoint 'unix://{dir}/no-runtime.sock' -RootDirectory '{dir}' -DurationSec {seconds + 30} -Confirm:$false -WarningAction SilentlyContinue | Out-Null";
        var start = new ProcessStartInfo("dotnet", [pwsh, "-NoProfile", "-NonInteractive", "-Command", script]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var agent = Process.Start(start)!;
        var stopwatch = Stopwatch.StartNew();
        while (server.Store.Get("leases", "kube-node-lease", "bench-node") is null)
        {
            if (agent.HasExited) throw new InvalidOperationException("the heartbeat exited: " + await agent.StandardError.ReadToEndAsync());
            await Task.Delay(100);
        }
        Console.WriteLine($"registered and first lease after {stopwatch.Elapsed.TotalSeconds:0.0} s (includes pwsh start and Import-Module)");
        server.RequestLog.Clear();
        var windowStart = DateTimeOffset.UtcNow;
        long peakRss = 0, lastRss = 0;
        while (DateTimeOffset.UtcNow - windowStart < TimeSpan.FromSeconds(seconds))
        {
            lastRss = ResidentBytes(agent.Id);
            peakRss = Math.Max(peakRss, lastRss);
            await Task.Delay(1000);
        }
        var minutes = (DateTimeOffset.UtcNow - windowStart).TotalMinutes;
        var counts = server.RequestLog.CountsByVerbAndResource();
        agent.Kill(entireProcessTree: true);
        await agent.WaitForExitAsync();
        Directory.Delete(dir, true);

        Console.WriteLine($"window: {minutes * 60:0} s of steady state");
        foreach (var (key, count) in counts.OrderBy(p => p.Key)) Console.WriteLine($"  {key,-28} {count,4}  ({count / minutes:0.0}/min)");
        Console.WriteLine($"API requests per minute: {counts.Values.Sum() / minutes:0.0}");
        Console.WriteLine($"heartbeat process resident memory: last {lastRss / 1048576.0:0.0} MiB, peak {peakRss / 1048576.0:0.0} MiB (pwsh with the module loaded)");
        return 0;
    }

    internal static long ResidentBytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    internal static string FindPwshDll()
    {
        var nuget = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget/packages");
        var dll = Directory.EnumerateFiles(Path.Combine(nuget, "powershell"), "pwsh.dll", SearchOption.AllDirectories)
            .Where(f => f.Contains($"{Path.DirectorySeparatorChar}unix{Path.DirectorySeparatorChar}", StringComparison.Ordinal)).OrderDescending().FirstOrDefault();
        return dll ?? throw new FileNotFoundException("pwsh.dll not found in the NuGet cache: run 'dotnet tool restore' first.");
    }

    internal static string FindRepoRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "KubeletPS.sln"))) dir = Path.GetDirectoryName(dir);
        return dir ?? throw new DirectoryNotFoundException("KubeletPS.sln not found above " + AppContext.BaseDirectory);
    }

    internal static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
    }

    internal static string? OptionText(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
