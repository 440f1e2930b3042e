using System.Diagnostics;
using System.Text;

namespace KubeletPS.Core.Agent;

/// <summary>What the agent's systemd service runs: the module, the pwsh that loads it and Start-KubeletAgent's files.</summary>
public sealed record SystemdServiceRequest
{
    /// <summary>The unit's name without ".service" (default kubeletps).</summary>
    public string Name { get; init; } = "kubeletps";

    public required string PwshPath { get; init; }
    public required string ModuleManifestPath { get; init; }
    public string? ConfigPath { get; init; }
    public string? KubeconfigPath { get; init; }
    public string? NodeName { get; init; }
    public string UnitDirectory { get; init; } = "/etc/systemd/system";

    /// <summary>DOTNET_ROOT for a pwsh that runs on a .NET installed outside the default places (a dotnet tool's pwsh).</summary>
    public string? DotnetRoot { get; init; }

    public string UnitPath => Path.Combine(UnitDirectory, Name + ".service");
}

/// <summary>What installing the service did.</summary>
public sealed record SystemdServiceState(string Name, string UnitPath, string ExecStart, bool UnitChanged, bool SystemdRunning, bool Enabled, bool Active);

/// <summary>
/// The agent as a systemd service, laid out like kubeadm's kubelet.service: after containerd and
/// the network, restarted always 10 s after it stops, stopped with SIGTERM (which Start-KubeletAgent
/// treats as Ctrl+C: a clean stop, the pods keep running). The unit file is written atomically
/// (mode 0644); systemctl enables and starts it when systemd runs this machine.
/// </summary>
public static class SystemdService
{
    private static readonly char[] UnitNameInvalid = ['/', ' ', '\t', '\n', '\\', '"', '\''];

    /// <summary>The unit file's text.</summary>
    public static string Render(SystemdServiceRequest request)
    {
        Validate(request);
        var text = new StringBuilder();
        text.Append("# Written by Install-KubeletService (KubeletPS). Changes are overwritten when it runs again with -Force.\n");
        text.Append("[Unit]\n");
        text.Append("Description=KubeletPS node agent (kubelet)\n");
        text.Append("Wants=network-online.target containerd.service\n");
        text.Append("After=network-online.target containerd.service\n");
        text.Append("StartLimitIntervalSec=0\n\n");
        text.Append("[Service]\n");
        text.Append("ExecStart=").Append(ExecStart(request)).Append('\n');
        text.Append("Restart=always\n");
        text.Append("RestartSec=10\n");
        text.Append("KillSignal=SIGTERM\n");
        text.Append("TimeoutStopSec=150\n");
        // CPU the agent does not take is the pods' and the runtime's (measured on 2 cores, 30 pods
        // started by an agent just started: 5.5 s of agent CPU without these and the precompiled
        // engine, 1.1 s with). The JIT's profile-guided tier costs CPU while pods start; recompiling
        // hot methods is put off until the agent has been quiet for 5 s instead of 0.1 s; idle
        // thread-pool threads do not spin for work.
        text.Append("Environment=DOTNET_TieredPGO=0\n");
        text.Append("Environment=DOTNET_TC_CallCountingDelayMs=5000\n");
        text.Append("Environment=DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0\n");
        // The GC's gen0 budget, sized from the CPU cache by default, let this agent commit ~80 MiB for a
        // heap of under 10 MiB (20 API pods, tests/benchmarks/AgentMemory.Benchmark.ps1); 4 MiB keeps it
        // near the live heap for a few more, cheap, gen0 collections.
        text.Append("Environment=DOTNET_GCgen0size=0x400000\n");
        text.Append("Environment=POWERSHELL_TELEMETRY_OPTOUT=1\n");
        if (request.DotnetRoot is { } root) text.Append("Environment=").Append(SystemdQuote("DOTNET_ROOT=" + root)).Append('\n');
        text.Append('\n');
        text.Append("[Install]\n");
        text.Append("WantedBy=multi-user.target\n");
        return text.ToString();
    }

    /// <summary>The ExecStart line: pwsh importing the module and running Start-KubeletAgent.</summary>
    public static string ExecStart(SystemdServiceRequest request)
    {
        var command = new StringBuilder();
        command.Append("Import-Module ").Append(PowerShellQuote(request.ModuleManifestPath)).Append("; Start-KubeletAgent");
        if (request.ConfigPath is { } config) command.Append(" -ConfigPath ").Append(PowerShellQuote(config));
        if (request.KubeconfigPath is { } kubeconfig) command.Append(" -KubeconfigPath ").Append(PowerShellQuote(kubeconfig));
        if (request.NodeName is { } node) command.Append(" -NodeName ").Append(PowerShellQuote(node));
        command.Append(" -Verbose");
        return $"{SystemdQuote(request.PwshPath)} -NoLogo -NoProfile -NonInteractive -Command {SystemdQuote(command.ToString())}";
    }

    /// <summary>Whether systemd manages this machine (as sd_booted(3) checks).</summary>
    public static bool SystemdRunning => Directory.Exists("/run/systemd/system");

    /// <summary>Writes the unit when it differs from the one in place; <paramref name="force"/> allows replacing a different one.</summary>
    /// <exception cref="KubeletException">A different unit exists without force, or the file cannot be written.</exception>
    public static bool WriteUnit(SystemdServiceRequest request, bool force)
    {
        var content = Render(request);
        var path = request.UnitPath;
        try
        {
            if (File.Exists(path))
            {
                var existing = File.ReadAllText(path);
                if (existing == content) return false;
                if (!force)
                    throw new KubeletException($"{path} exists with other content; use -Force to replace it.", KubeletErrorKind.Conflict, path);
            }
            Directory.CreateDirectory(request.UnitDirectory);
            var temporary = path + ".tmp";
            File.WriteAllText(temporary, content);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            File.Move(temporary, path, overwrite: true);
            return true;
        }
        catch (UnauthorizedAccessException e)
        {
            throw new KubeletException($"cannot write {path}: {e.Message} (run as root).", KubeletErrorKind.PermissionDenied, path, e);
        }
        catch (IOException e)
        {
            throw new KubeletException($"cannot write {path}: {e.Message}", KubeletErrorKind.Unspecified, path, e);
        }
    }

    /// <summary>Runs systemctl with the arguments; returns its exit code and output.</summary>
    /// <exception cref="KubeletException">systemctl cannot be started.</exception>
    public static (int ExitCode, string Output) Systemctl(params string[] arguments)
    {
        var info = new ProcessStartInfo("systemctl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(info) ?? throw new KubeletException("systemctl did not start.", KubeletErrorKind.NotFound, "systemctl");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, (stdout.Result + stderr).Trim());
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new KubeletException($"systemctl cannot be run: {e.Message}", KubeletErrorKind.NotFound, "systemctl", e);
        }
    }

    /// <summary>systemctl with the arguments, which must succeed.</summary>
    /// <exception cref="KubeletException">It failed; the message has its output.</exception>
    public static void SystemctlChecked(params string[] arguments)
    {
        var (code, output) = Systemctl(arguments);
        if (code != 0)
            throw new KubeletException($"systemctl {string.Join(' ', arguments)} failed with exit code {code}: {output}", KubeletErrorKind.Unspecified, "systemctl");
    }

    /// <summary>systemctl daemon-reload and enable; with <paramref name="start"/> also start (restart when the unit changed).</summary>
    /// <exception cref="KubeletException">A systemctl step failed; the message has its output.</exception>
    public static void Enable(string name, bool start, bool unitChanged)
    {
        SystemctlChecked("daemon-reload");
        SystemctlChecked("enable", name + ".service");
        if (start) SystemctlChecked(unitChanged ? "restart" : "start", name + ".service");
    }

    /// <summary>
    /// DOTNET_ROOT for the service when this process runs on the dotnet host (pwsh as a dotnet tool):
    /// the host's directory, so the pwsh apphost finds the same .NET when systemd starts it.
    /// </summary>
    public static string? DotnetRootFor(string? processPath) =>
        processPath is not null && Path.GetFileName(processPath) == "dotnet" ? Path.GetDirectoryName(processPath) : null;

    /// <summary>The unit's state as systemctl reports it (false for both when systemd does not run).</summary>
    public static (bool Enabled, bool Active) State(string name)
    {
        if (!SystemdRunning) return (false, false);
        return (Systemctl("is-enabled", "--quiet", name + ".service").ExitCode == 0, Systemctl("is-active", "--quiet", name + ".service").ExitCode == 0);
    }

    private static void Validate(SystemdServiceRequest request)
    {
        if (string.IsNullOrEmpty(request.Name) || request.Name.IndexOfAny(UnitNameInvalid) >= 0 || request.Name.EndsWith(".service", StringComparison.Ordinal))
            throw new KubeletException($"\"{request.Name}\" is not a unit name (letters, digits, '-', '_', '.', ':' and '@'; without \".service\").", KubeletErrorKind.InvalidArgument, "Name");
        foreach (var (value, field) in new[] { (request.PwshPath, "PwshPath"), (request.ModuleManifestPath, "ModuleManifestPath") })
        {
            if (!Path.IsPathRooted(value))
                throw new KubeletException($"{field} \"{value}\" must be an absolute path: systemd starts the service from /.", KubeletErrorKind.InvalidArgument, field);
        }
        foreach (var (value, field) in new[] { (request.ConfigPath, "ConfigPath"), (request.KubeconfigPath, "KubeconfigPath"), (request.DotnetRoot, "DotnetRoot") })
        {
            if (value is not null && !Path.IsPathRooted(value))
                throw new KubeletException($"{field} \"{value}\" must be an absolute path: systemd starts the service from /.", KubeletErrorKind.InvalidArgument, field);
        }
        foreach (var (value, field) in new[] { (request.PwshPath, "PwshPath"), (request.ModuleManifestPath, "ModuleManifestPath"), (request.ConfigPath, "ConfigPath"), (request.KubeconfigPath, "KubeconfigPath"), (request.NodeName, "NodeName"), (request.DotnetRoot, "DotnetRoot") })
        {
            if (value is not null && value.IndexOfAny(['\n', '\r', '\0']) >= 0)
                throw new KubeletException($"{field} contains a line break.", KubeletErrorKind.InvalidArgument, field);
        }
    }

    /// <summary>A PowerShell single-quoted string.</summary>
    internal static string PowerShellQuote(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>One ExecStart word, double-quoted as systemd.service(5) reads it ('%' and '$' escaped too).</summary>
    internal static string SystemdQuote(string value)
    {
        var quoted = new StringBuilder("\"");
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': quoted.Append("\\\""); break;
                case '\\': quoted.Append("\\\\"); break;
                case '%': quoted.Append("%%"); break;
                case '$': quoted.Append("$$"); break;
                default: quoted.Append(c); break;
            }
        }
        return quoted.Append('"').ToString();
    }
}
