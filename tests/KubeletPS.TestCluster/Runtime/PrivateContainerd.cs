using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Runtime.Remote;

namespace KubeletPS.TestCluster.Runtime;

public sealed record PrivateContainerdOptions
{
    /// <summary>Linux bridge for pod networking; default derived from the base directory (<c>kps</c> + 8 hex).</summary>
    public string? BridgeName { get; init; }

    /// <summary>Pod subnet; default <c>10.231.N.0/24</c> with N derived from the base directory.</summary>
    public string? Subnet { get; init; }

    /// <summary><c>overlayfs</c> or <c>native</c>; null probes whether overlay mounts work in the base directory.</summary>
    public string? Snapshotter { get; init; }

    public string ContainerdPath { get; init; } = "containerd";
    public string CtrPath { get; init; } = "ctr";
    public string CniBinDir { get; init; } = "/usr/lib/cni";

    /// <summary>Build (or take from cache) the busybox and pause images and import them.</summary>
    public bool ImportImages { get; init; } = true;

    /// <summary>The CRI registry <c>config_path</c> (a hosts.toml directory per registry host, e.g. <see cref="PrivateRegistry.WriteContainerdHostsDirectory"/>); none when null.</summary>
    public string? RegistryConfigPath { get; init; }
    public string? ImageCacheDirectory { get; init; }

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan StopGracePeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Remove the base directory when disposed (for temp directories made by tests).</summary>
    public bool DeleteBaseDirectoryOnDispose { get; init; }
}

/// <summary>
/// A containerd of its own for tests and demos: own root, state, sockets, CNI network and images,
/// so it never touches a system containerd. Started with <c>setsid</c> so a Ctrl+C meant for the
/// parent does not reach it; disposing it removes pods, processes, mounts and the bridge it made.
/// </summary>
public sealed class PrivateContainerd : IAsyncDisposable
{
    public const string CriNamespace = "k8s.io";

    private readonly PrivateContainerdOptions _options;
    private readonly bool _bridgeExisted;
    private Process? _process;
    private bool _disposed;

    private PrivateContainerd(string baseDir, PrivateContainerdOptions options, string snapshotter)
    {
        _options = options;
        BaseDir = baseDir;
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(baseDir))).ToLowerInvariant();
        BridgeName = options.BridgeName ?? "kps" + hash[..8];
        Subnet = options.Subnet ?? $"10.231.{Convert.ToInt32(hash[..2], 16)}.0/24";
        NetworkName = "kubeletps-" + hash[..8];
        Snapshotter = snapshotter;
        _bridgeExisted = Directory.Exists($"/sys/class/net/{BridgeName}");
    }

    public string BaseDir { get; }
    public string SocketPath => Path.Combine(BaseDir, "containerd.sock");
    public string Endpoint => "unix://" + SocketPath;
    public string ConfigPath => Path.Combine(BaseDir, "config.toml");

    /// <summary>containerd's own stdout and stderr.</summary>
    public string LogPath => Path.Combine(BaseDir, "containerd.log");
    public string RootDir => Path.Combine(BaseDir, "root");
    public string StateDir => Path.Combine(BaseDir, "state");
    public string RuncRoot => Path.Combine(BaseDir, "runc");
    public string CniConfDir => Path.Combine(BaseDir, "cni", "net.d");

    /// <summary>A directory for pod log directories (the node's /var/log/pods).</summary>
    public string PodLogsDir => Path.Combine(BaseDir, "pods");
    public string Snapshotter { get; }
    public string BridgeName { get; }
    public string Subnet { get; }
    public string NetworkName { get; }
    public string PauseImage => OciImageBuilder.PauseImage;
    public string BusyboxImage => OciImageBuilder.BusyboxImage;

    /// <summary>containerd's PID while running.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>How long the last start took until CRI answered Version.</summary>
    public TimeSpan LastStartDuration { get; private set; }

    public static async Task<PrivateContainerd> StartAsync(string baseDir, PrivateContainerdOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PrivateContainerdOptions();
        baseDir = Path.GetFullPath(baseDir).TrimEnd('/');
        // unix socket paths are limited to 108 bytes.
        if (Encoding.UTF8.GetByteCount(Path.Combine(baseDir, "containerd.sock.ttrpc")) > 100)
        {
            throw new ArgumentException($"base directory {baseDir} is too long for a unix socket path", nameof(baseDir));
        }

        foreach (var tool in new[] { options.ContainerdPath, options.CtrPath, "runc", "setsid" })
        {
            if (FindExecutable(tool) is null)
            {
                throw new InvalidOperationException($"{tool} not found on PATH; install containerd, runc and util-linux (apt-get install containerd runc)");
            }
        }

        Directory.CreateDirectory(baseDir);
        var snapshotter = options.Snapshotter ?? ProbeSnapshotter(baseDir);
        var containerd = new PrivateContainerd(baseDir, options, snapshotter);
        try
        {
            containerd.WriteConfiguration();
            await containerd.StartProcessAsync(cancellationToken).ConfigureAwait(false);
            if (options.ImportImages)
            {
                var archive = await OciImageBuilder.GetOrBuildAsync(options.ImageCacheDirectory, cancellationToken: cancellationToken).ConfigureAwait(false);
                await containerd.ImportImagesAsync(archive, cancellationToken).ConfigureAwait(false);
            }

            return containerd;
        }
        catch
        {
            await containerd.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A CRI client for this containerd (caller disposes).</summary>
    public CriRuntimeClient CreateClient(TimeSpan? requestTimeout = null) => new(Endpoint, requestTimeout);

    /// <summary>Imports an OCI archive into the CRI namespace and checks that CRI sees its images.</summary>
    public async Task ImportImagesAsync(string archivePath, CancellationToken cancellationToken = default)
    {
        await RunToolAsync(_options.CtrPath, ["--address", SocketPath, "--namespace", CriNamespace, "images", "import", "--snapshotter", Snapshotter, archivePath], cancellationToken).ConfigureAwait(false);
        await using var client = CreateClient(TimeSpan.FromSeconds(10));
        foreach (var image in new[] { PauseImage, BusyboxImage })
        {
            // CRI learns about imported images from containerd events: wait until it has them.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (await client.ImageStatusAsync(image, cancellationToken).ConfigureAwait(false) is null)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"containerd at {Endpoint} does not show {image} after importing {archivePath}");
                }

                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Stops the containerd process only, leaving shims and containers running (as a daemon restart does).</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        var process = _process;
        if (process is null)
        {
            return;
        }

        if (!process.HasExited)
        {
            LinuxNative.Kill(process.Id, LinuxNative.SIGTERM);
            using var grace = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            grace.CancelAfter(_options.StopGracePeriod);
            try
            {
                await process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                LinuxNative.Kill(process.Id, LinuxNative.SIGKILL);
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        process.Dispose();
        _process = null;
    }

    /// <summary>Starts the same instance again after <see cref="StopAsync"/> (same root, state and images).</summary>
    public Task StartAgainAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _process is null ? StartProcessAsync(cancellationToken) : Task.CompletedTask;
    }

    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        await StopAsync(cancellationToken).ConfigureAwait(false);
        await StartAgainAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The last lines of containerd's own log, for error messages.</summary>
    public string ReadLogTail(int lines = 20)
    {
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_process is { HasExited: false })
        {
            await RemoveAllPodsAsync().ConfigureAwait(false);
        }

        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        await KillLeftoversAsync().ConfigureAwait(false);
        foreach (var mountPoint in LinuxNative.MountsUnder(BaseDir))
        {
            LinuxNative.Unmount(mountPoint, LinuxNative.MNT_DETACH);
        }

        if (!_bridgeExisted && Directory.Exists($"/sys/class/net/{BridgeName}"))
        {
            await TryRunToolAsync("ip", ["link", "delete", BridgeName]).ConfigureAwait(false);
        }

        if (_options.DeleteBaseDirectoryOnDispose)
        {
            try
            {
                Directory.Delete(BaseDir, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Left for the caller to see; never fail disposal over it.
            }
        }
    }

    private void WriteConfiguration()
    {
        foreach (var dir in new[] { RootDir, StateDir, RuncRoot, CniConfDir, PodLogsDir })
        {
            Directory.CreateDirectory(dir);
        }

        File.WriteAllText(ConfigPath, $$"""
            # Written by KubeletPS.TestCluster PrivateContainerd; every path is private to {{BaseDir}}.
            version = 2
            root = "{{RootDir}}"
            state = "{{StateDir}}"
            # Snapshotters that need special filesystems only slow the start down and log errors.
            disabled_plugins = [
              "io.containerd.snapshotter.v1.aufs",
              "io.containerd.snapshotter.v1.btrfs",
              "io.containerd.snapshotter.v1.zfs",
              "io.containerd.snapshotter.v1.devmapper",
              "io.containerd.tracing.processor.v1.otlp",
            ]

            [grpc]
              address = "{{SocketPath}}"

            [ttrpc]
              address = "{{SocketPath}}.ttrpc"

            [debug]
              level = "info"

            [plugins."io.containerd.internal.v1.opt"]
              path = "{{Path.Combine(BaseDir, "opt")}}"

            [plugins."io.containerd.grpc.v1.cri"]
              sandbox_image = "{{PauseImage}}"
              # Without CAP_SYS_RESOURCE runc cannot lower oom_score_adj below ours and
              # RunPodSandbox fails with "can't get final child's PID from pipe".
              restrict_oom_score_adj = true
              # Keep network namespace mounts under our state dir so that cleanup finds them.
              netns_mounts_under_state_dir = true
              enable_selinux = false
              # The CRI streaming server (Exec/Attach/PortForward URLs): loopback only, a port the
              # kernel picks, so that several private containerds never clash; plain HTTP as the
              # kubelet reaches it on the node itself.
              stream_server_address = "127.0.0.1"
              stream_server_port = "0"
              enable_tls_streaming = false

              [plugins."io.containerd.grpc.v1.cri".containerd]
                # {{Snapshotter}}: overlayfs when an overlay mount works in the base directory, else native (copies).
                snapshotter = "{{Snapshotter}}"
                default_runtime_name = "runc"

                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
                  runtime_type = "io.containerd.runc.v2"

                  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
                    # runc state of our containers stays under our base dir (default /run/containerd/runc).
                    Root = "{{RuncRoot}}"
                    SystemdCgroup = false

              [plugins."io.containerd.grpc.v1.cri".cni]
                bin_dir = "{{_options.CniBinDir}}"
                conf_dir = "{{CniConfDir}}"
                max_conf_num = 1
            {{(_options.RegistryConfigPath is { } registries ? $"""

              [plugins."io.containerd.grpc.v1.cri".registry]
                config_path = "{registries}"
            """ : "")}}
            """);

        // containerd adds the loopback network itself (go-cni WithLoNetwork), so one conflist is enough.
        // portmap needs iptables (also on DEL), so it is only listed when iptables is installed.
        var plugins = new List<object>
        {
            new Dictionary<string, object>
            {
                ["type"] = "bridge",
                ["bridge"] = BridgeName,
                ["isGateway"] = true,
                ["ipMasq"] = false,
                ["hairpinMode"] = true,
                ["ipam"] = new Dictionary<string, object>
                {
                    ["type"] = "host-local",
                    ["ranges"] = new[] { new[] { new Dictionary<string, string> { ["subnet"] = Subnet } } },
                    ["routes"] = new[] { new Dictionary<string, string> { ["dst"] = "0.0.0.0/0" } },
                    ["dataDir"] = Path.Combine(BaseDir, "cni", "ipam"),
                },
            },
        };
        if (FindExecutable("iptables") is not null)
        {
            plugins.Add(new Dictionary<string, object> { ["type"] = "portmap", ["capabilities"] = new Dictionary<string, bool> { ["portMappings"] = true } });
        }

        var conflist = new Dictionary<string, object> { ["cniVersion"] = "0.4.0", ["name"] = NetworkName, ["plugins"] = plugins };
        File.WriteAllText(Path.Combine(CniConfDir, "10-kubeletps.conflist"), JsonSerializer.Serialize(conflist, new JsonSerializerOptions { WriteIndented = true }));
    }

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

    /// <summary>overlayfs if an overlay mount works here (not on overlay-on-overlay or some container filesystems), else native.</summary>
    private static string ProbeSnapshotter(string baseDir)
    {
        var probe = Path.Combine(baseDir, "overlay-probe");
        try
        {
            foreach (var dir in new[] { "lower", "upper", "work", "merged" })
            {
                Directory.CreateDirectory(Path.Combine(probe, dir));
            }

            var merged = Path.Combine(probe, "merged");
            var data = $"lowerdir={Path.Combine(probe, "lower")},upperdir={Path.Combine(probe, "upper")},workdir={Path.Combine(probe, "work")}";
            if (LinuxNative.Mount("overlay", merged, "overlay", 0, data) != 0)
            {
                return "native";
            }

            LinuxNative.Unmount(merged, LinuxNative.MNT_DETACH);
            return "overlayfs";
        }
        finally
        {
            try
            {
                Directory.Delete(probe, recursive: true);
            }
            catch (IOException)
            {
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
