using System.Diagnostics;
using KubeletPS.Core.Runtime;

namespace KubeletPS.TestCluster.Runtime;

/// <summary>The containerd process, its shims and pods: starting, stopping, cleaning up, and the tools it runs.</summary>
public sealed partial class PrivateContainerd
{
    private async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        File.Delete(SocketPath);
        var startInfo = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            // setsid: own session and process group, so a terminal's Ctrl+C for us never reaches it.
            // The shell only sets up redirection and is replaced by containerd (same PID).
            ArgumentList = { "-c", "exec setsid \"$0\" --config \"$1\" </dev/null >>\"$2\" 2>&1", _options.ContainerdPath, ConfigPath, LogPath },
        };
        _process = Process.Start(startInfo) ?? throw new InvalidOperationException("could not start containerd");

        await using var client = CreateClient(TimeSpan.FromSeconds(2));
        var deadline = DateTime.UtcNow + _options.StartTimeout;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                var code = _process.ExitCode;
                _process.Dispose();
                _process = null;
                throw new InvalidOperationException($"containerd exited with code {code} during start; its log {LogPath} ends with:\n{ReadLogTail()}");
            }

            if (File.Exists(SocketPath))
            {
                try
                {
                    await client.VersionAsync(cancellationToken).ConfigureAwait(false);
                    LastStartDuration = started.Elapsed;
                    return;
                }
                catch (KubeletRuntimeException)
                {
                    // Socket there but CRI not serving yet.
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"containerd did not answer CRI Version on {Endpoint} within {_options.StartTimeout}; its log {LogPath} ends with:\n{ReadLogTail()}");
            }

            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RemoveAllPodsAsync()
    {
        // The orderly way: CRI tears down containers, network namespaces and CNI allocations.
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await using var client = CreateClient(TimeSpan.FromSeconds(15));
            foreach (var sandbox in await client.ListPodSandboxesAsync(null, timeout.Token).ConfigureAwait(false))
            {
                await client.StopPodSandboxAsync(sandbox.Id, timeout.Token).ConfigureAwait(false);
                await client.RemovePodSandboxAsync(sandbox.Id, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is KubeletRuntimeException or OperationCanceledException)
        {
            // Fall through to the forceful cleanup.
        }
    }

    private async Task KillLeftoversAsync()
    {
        if (Directory.Exists(RuncRoot) && FindExecutable("runc") is not null)
        {
            var (_, output) = await TryRunToolAsync("runc", ["--root", RuncRoot, "list", "-q"]).ConfigureAwait(false);
            foreach (var id in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                await TryRunToolAsync("runc", ["--root", RuncRoot, "delete", "--force", id]).ConfigureAwait(false);
            }
        }

        // Shims of this containerd carry "-address <our socket>" on their command line.
        foreach (var pid in FindShims())
        {
            LinuxNative.Kill(pid, LinuxNative.SIGKILL);
        }
    }

    private IEnumerable<int> FindShims()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            string[] args;
            try
            {
                args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            if (args.Length > 0 && args[0].Contains("containerd-shim", StringComparison.Ordinal))
            {
                var address = Array.IndexOf(args, "-address");
                if (address >= 0 && address + 1 < args.Length && args[address + 1] == SocketPath)
                {
                    yield return pid;
                }
            }
        }
    }

    private static string? FindExecutable(string name)
    {
        if (name.Contains('/'))
        {
            return File.Exists(name) ? name : null;
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        return path.Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/sbin").Append("/sbin")
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
    }

    private static async Task RunToolAsync(string tool, IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var (exitCode, output) = await TryRunToolAsync(tool, args, cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', args)} failed with exit code {exitCode}: {output}");
        }
    }

    private static async Task<(int ExitCode, string Output)> TryRunToolAsync(string tool, IReadOnlyList<string> args, CancellationToken cancellationToken = default)
    {
        var startInfo = new ProcessStartInfo(FindExecutable(tool) ?? tool)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var arg in args)
        {
            startInfo.ArgumentList.Add(arg);
        }

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"could not start {tool}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(1));
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, (await stdout.ConfigureAwait(false)) + (await stderr.ConfigureAwait(false)));
    }
}
