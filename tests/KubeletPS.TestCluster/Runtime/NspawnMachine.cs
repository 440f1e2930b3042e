using System.Diagnostics;
using System.Text;

namespace KubeletPS.TestCluster.Runtime;

/// <summary>
/// A real systemd booted in systemd-nspawn for tests, on a machine whose PID 1 is not systemd.
/// The Debian root (debootstrap minbase with systemd and dbus, the libraries .NET needs so the
/// module runs inside, and containerd as a node's runtime: <see cref="NspawnRootLayout"/>) is built once into a cache directory outside the repository, under a lock;
/// each machine boots an overlay of it (upper and work in a temporary directory), so tests never
/// change the cached root. nspawn runs in a cgroup of its own (the host has no systemd to give it
/// one); commands run inside through nsenter into systemd's namespaces. Dispose powers it off,
/// unmounts the overlay and removes the temporary directory.
/// </summary>
public sealed class NspawnMachine : IAsyncDisposable
{
    /// <summary>The cached root, keyed on its package list and files (<see cref="NspawnRootLayout.Key"/>); KUBELETPS_NSPAWN_ROOT overrides it.</summary>
    public static string CachedRoot => Environment.GetEnvironmentVariable("KUBELETPS_NSPAWN_ROOT") is { Length: > 0 } root ? root : "/var/cache/kubeletps/nspawn-bookworm-" + NspawnRootLayout.Key;

    /// <summary>debootstrap's --include (<see cref="NspawnRootLayout.Packages"/>).</summary>
    public const string Packages = NspawnRootLayout.Packages;

    private readonly Process _nspawn;
    private readonly string _directory;
    private readonly IReadOnlyList<string> _cgroups;

    private NspawnMachine(string name, Process nspawn, int systemdPid, string directory, IReadOnlyList<string> cgroups, TimeSpan bootTime)
    {
        Name = name;
        _nspawn = nspawn;
        SystemdPid = systemdPid;
        _directory = directory;
        _cgroups = cgroups;
        BootTime = bootTime;
    }

    public string Name { get; }
    /// <summary>The container's PID 1 (systemd) as the host sees it: nsenter -t this.</summary>
    public int SystemdPid { get; }
    public int NspawnPid => _nspawn.Id;
    /// <summary>The machine's root as the host sees it.</summary>
    public string Root => Path.Combine(_directory, "merged");
    /// <summary>From starting nspawn to systemd's private socket existing.</summary>
    public TimeSpan BootTime { get; }
    public string ConsoleLog => Path.Combine(_directory, "console.log");

    /// <summary>Why nspawn cannot run here (not root, a tool missing), or null when it can.</summary>
    public static string? CannotRunReason()
    {
        if (!OperatingSystem.IsLinux()) return "systemd-nspawn needs Linux";
        if (Environment.UserName != "root") return "systemd-nspawn needs root";
        foreach (var tool in new[] { "/usr/bin/systemd-nspawn", "/usr/sbin/debootstrap", "/usr/bin/nsenter", "/usr/bin/setpriv" })
        {
            if (!File.Exists(tool)) return $"{tool} is missing: apt-get install systemd-container debootstrap util-linux";
        }
        return null;
    }

    /// <summary>
    /// Builds the cached root when it is not there yet (another process building it is waited for,
    /// through an exclusive lock on ROOT.lock); returns how long the build took, zero when cached.
    /// </summary>
    public static async Task<TimeSpan> EnsureRootAsync(CancellationToken cancellationToken)
    {
        var root = CachedRoot;
        var complete = Path.Combine(root, ".kubeletps-complete");
        if (File.Exists(complete)) return TimeSpan.Zero;
        Directory.CreateDirectory(Path.GetDirectoryName(root)!);
        using var lockFile = await LockAsync(root + ".lock", cancellationToken);
        if (File.Exists(complete)) return TimeSpan.Zero;
        var building = root + ".building";
        if (Directory.Exists(building)) Directory.Delete(building, recursive: true);
        var watch = Stopwatch.StartNew();
        var (code, output) = await RunHostAsync("debootstrap", ["--variant=minbase", "--include=" + Packages, "bookworm", building], TimeSpan.FromMinutes(15), cancellationToken);
        if (code != 0) throw new InvalidOperationException($"debootstrap of {building} failed ({code}): {Tail(output)}");
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.Move(building, root);
        await File.WriteAllTextAsync(complete, $"debootstrap --variant=minbase --include={Packages} bookworm, {watch.Elapsed.TotalSeconds:0.0} s\n", cancellationToken);
        return watch.Elapsed;
    }

    /// <summary>Boots a machine on an overlay of the cached root, with host paths bound read-only at the same place inside.</summary>
    public static async Task<NspawnMachine> StartAsync(string name, IEnumerable<string> bindReadOnly, CancellationToken cancellationToken)
    {
        await EnsureRootAsync(cancellationToken);
        var directory = Directory.CreateTempSubdirectory("kps-nspawn-").FullName;
        foreach (var sub in new[] { "upper", "work", "merged" }) Directory.CreateDirectory(Path.Combine(directory, sub));
        var merged = Path.Combine(directory, "merged");
        var options = $"lowerdir={CachedRoot},upperdir={Path.Combine(directory, "upper")},workdir={Path.Combine(directory, "work")}";
        if (LinuxNative.Mount("overlay", merged, "overlay", 0, options) != 0)
            throw new InvalidOperationException($"mounting the overlay on {merged} failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        await NspawnRootLayout.WriteAsync(merged, name, cancellationToken);

        // The host has no systemd to place nspawn in a scope: a cgroup of its own in each hierarchy
        // systemd uses (name=systemd of a hybrid host, the unified one), so machines do not share one.
        var cgroups = new List<string>();
        foreach (var hierarchy in new[] { "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup" })
        {
            if (hierarchy == "/sys/fs/cgroup" && !File.Exists("/sys/fs/cgroup/cgroup.controllers")) continue;
            if (!File.Exists(Path.Combine(hierarchy, "cgroup.procs"))) continue;
            var cgroup = Path.Combine(hierarchy, "kubeletps-" + name + "-" + Environment.ProcessId);
            Directory.CreateDirectory(cgroup);
            cgroups.Add(cgroup);
        }
        var script = new StringBuilder("for g in \"$@\"; do echo $$ > \"$g/cgroup.procs\" || exit 97; done; exec systemd-nspawn");
        foreach (var argument in new[] { "-D", merged, "-b", "-M", name, "--register=no", "--keep-unit", "--console=passive" }.Concat(bindReadOnly.Select(p => "--bind-ro=" + p)))
            script.Append(' ').Append(ShellQuote(argument));
        script.Append(" >").Append(ShellQuote(Path.Combine(directory, "console.log"))).Append(" 2>&1");
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardInput = true };
        foreach (var argument in new[] { "-c", script.ToString(), "nspawn" }.Concat(cgroups.Select(c => c))) info.ArgumentList.Add(argument);
        var watch = Stopwatch.StartNew();
        var nspawn = Process.Start(info) ?? throw new InvalidOperationException("systemd-nspawn did not start");
        try
        {
            var systemd = await WaitForSystemdAsync(nspawn, TimeSpan.FromSeconds(60), cancellationToken);
            var booted = watch.Elapsed;
            // systemd's socket exists a little before journald's (seen: the first native entries refused);
            // once it exists systemd holds it, and entries queue until journald reads them.
            var journal = $"/proc/{systemd}/root/run/systemd/journal/socket";
            for (var waited = 0; !File.Exists(journal); waited++)
            {
                if (waited > 3000) throw new TimeoutException($"{journal} did not appear within 60 s of systemd starting");
                await Task.Delay(20, cancellationToken);
            }
            return new NspawnMachine(name, nspawn, systemd, directory, cgroups, booted);
        }
        catch
        {
            await StopAsync(nspawn, directory, cgroups);
            throw;
        }
    }

    /// <summary>
    /// Runs a command inside (all of systemd's namespaces) to its end, killed after <paramref name="timeout"/>.
    /// No setpriv --pdeathsig here: the parent death it watches is the forking thread's, and .NET forks
    /// from thread-pool threads that may retire while the command runs (seen: exit 143 mid-command).
    /// </summary>
    public Task<(int ExitCode, string Output)> RunAsync(IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        RunHostAsync("/usr/bin/nsenter", ["-t", SystemdPid.ToString(System.Globalization.CultureInfo.InvariantCulture), "-a", "--", .. command], timeout, cancellationToken);

    /// <summary>
    /// Waits for the machine's containerd (its package enables the unit, so it starts at boot) to open its
    /// socket, then imports the test images (busybox and the pause its config names as sandbox image) into
    /// its CRI namespace with the machine's own ctr.
    /// </summary>
    public async Task ImportImagesAsync(CancellationToken cancellationToken)
    {
        var archive = await OciImageBuilder.GetOrBuildAsync(cancellationToken: cancellationToken);
        var socket = HostPath("/run/containerd/containerd.sock");
        for (var waited = 0; !File.Exists(socket); waited++)
        {
            if (waited > 3000)
            {
                var (_, status) = await RunAsync(["systemctl", "status", "--no-pager", "containerd"], TimeSpan.FromSeconds(30), cancellationToken);
                throw new TimeoutException($"containerd in {Name} did not open /run/containerd/containerd.sock within 60 s: {Tail(status)}");
            }
            await Task.Delay(20, cancellationToken);
        }
        const string inside = "/var/tmp/kubeletps-images.tar";
        File.Copy(archive, HostPath(inside), overwrite: true);
        var (code, output) = await RunAsync(["/usr/bin/ctr", "--namespace", "k8s.io", "images", "import", "--snapshotter", "native", inside], TimeSpan.FromMinutes(2), cancellationToken);
        File.Delete(HostPath(inside));
        if (code != 0) throw new InvalidOperationException($"ctr images import in {Name} failed ({code}): {Tail(output)}");
    }

    /// <summary>A path inside the machine as the host sees it.</summary>
    public string HostPath(string pathInside) => $"/proc/{SystemdPid}/root{pathInside}";

    public async ValueTask DisposeAsync() => await StopAsync(_nspawn, _directory, _cgroups);

    private static async Task StopAsync(Process nspawn, string directory, IReadOnlyList<string> cgroups)
    {
        // SIGTERM asks nspawn to power the container off (SIGTERM to systemd itself would make it re-execute);
        // SIGKILL of what is left after 20 s.
        if (!nspawn.HasExited)
        {
            LinuxNative.Kill(nspawn.Id, LinuxNative.SIGTERM);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try { await nspawn.WaitForExitAsync(wait.Token); }
            catch (OperationCanceledException)
            {
                foreach (var pid in Descendants(nspawn.Id).Prepend(nspawn.Id)) LinuxNative.Kill(pid, LinuxNative.SIGKILL);
                await nspawn.WaitForExitAsync();
            }
        }
        nspawn.Dispose();
        foreach (var mount in LinuxNative.MountsUnder(directory)) LinuxNative.Unmount(mount, LinuxNative.MNT_DETACH);
        foreach (var cgroup in cgroups) await RemoveCgroupAsync(cgroup);
        try { Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>rmdir of the cgroup and the ones nspawn and systemd made below it (payload, supervisor…), deepest first.</summary>
    private static async Task RemoveCgroupAsync(string cgroup)
    {
        for (var attempt = 0; attempt < 10 && Directory.Exists(cgroup); attempt++)
        {
            try
            {
                var directories = Directory.EnumerateDirectories(cgroup, "*", SearchOption.AllDirectories).OrderByDescending(d => d.Length).Append(cgroup);
                foreach (var directory in directories) Directory.Delete(directory);
            }
            catch (IOException)
            {
                await Task.Delay(200); // the machine's last processes are still exiting
            }
        }
    }

    /// <summary>The first child of nspawn is its setup process; systemd is the descendant whose root holds /run/systemd/private.</summary>
    private static async Task<int> WaitForSystemdAsync(Process nspawn, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (nspawn.HasExited) throw new InvalidOperationException($"systemd-nspawn exited with {nspawn.ExitCode} before systemd started");
            foreach (var pid in Descendants(nspawn.Id))
            {
                if (File.Exists($"/proc/{pid}/root/run/systemd/private") && ReadComm(pid) == "systemd") return pid;
            }
            await Task.Delay(20, cancellationToken);
        }
        throw new TimeoutException($"systemd did not start in the container within {timeout.TotalSeconds} s");
    }

    private static IEnumerable<int> Descendants(int pid)
    {
        var result = new List<int>();
        var queue = new Queue<int>([pid]);
        while (queue.Count > 0)
        {
            var current = queue.Dequeue();
            string children;
            try { children = File.ReadAllText($"/proc/{current}/task/{current}/children"); }
            catch (IOException) { continue; }
            foreach (var child in children.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var id = int.Parse(child, System.Globalization.CultureInfo.InvariantCulture);
                result.Add(id);
                queue.Enqueue(id);
            }
        }
        return result;
    }

    private static string? ReadComm(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/comm").Trim(); }
        catch (IOException) { return null; }
    }

    private static async Task<FileStream> LockAsync(string path, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(15);
        while (true)
        {
            // FileShare.None takes an exclusive flock on Unix: a second test process waits here.
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (DateTime.UtcNow < deadline) { await Task.Delay(500, cancellationToken); }
        }
    }

    private static async Task<(int ExitCode, string Output)> RunHostAsync(string file, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try { await process.WaitForExitAsync(limit.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish within {timeout.TotalSeconds} s");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    private static string ShellQuote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static string Tail(string text) => text.Length <= 2000 ? text : text[^2000..];
}
