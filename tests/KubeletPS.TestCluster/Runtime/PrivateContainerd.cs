using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
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
public sealed partial class PrivateContainerd : IAsyncDisposable
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
}
