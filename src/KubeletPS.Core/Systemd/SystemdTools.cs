using System.Diagnostics;

namespace KubeletPS.Core.Systemd;

/// <summary>The result of one systemctl or journalctl run.</summary>
public sealed record ToolResult(int ExitCode, string StandardOutput, string StandardError);

/// <summary>
/// Runs systemctl and journalctl with argument lists (never a shell) and checks first that systemd
/// manages this machine, so a cmdlet reports "no systemd" instead of a process error.
/// </summary>
public static class SystemdTools
{
    /// <summary>Whether systemd manages this machine (sd_booted(3): /run/systemd/system exists).</summary>
    public static bool Booted => Directory.Exists("/run/systemd/system");

    /// <summary>The exception for a machine that systemd does not run.</summary>
    public static KubeletException NotBooted(string what) => new(
        $"systemd does not run this machine (no /run/systemd/system; PID 1 is {ProcessOneName()}): {what} needs systemd as PID 1.",
        KubeletErrorKind.NotReady, "/run/systemd/system");

    /// <summary>Throws <see cref="NotBooted"/> unless systemd runs this machine.</summary>
    /// <exception cref="KubeletException">systemd does not run this machine.</exception>
    public static void EnsureBooted(string what)
    {
        if (!Booted) throw NotBooted(what);
    }

    /// <summary>Runs <paramref name="tool"/> to its end and returns its exit code and output.</summary>
    /// <exception cref="KubeletException">The tool cannot be started (not installed).</exception>
    public static async Task<ToolResult> RunAsync(string tool, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        using var process = Start(tool, arguments);
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            return new ToolResult(process.ExitCode, await stdout.ConfigureAwait(false), (await stderr.ConfigureAwait(false)).Trim());
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            throw;
        }
    }

    /// <summary>Runs <paramref name="tool"/> and fails unless it exits 0.</summary>
    /// <exception cref="KubeletException">It cannot be started or exits non-zero; the message has its stderr.</exception>
    public static async Task<string> RunCheckedAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var result = await RunAsync(tool, arguments, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new KubeletException($"{tool} {string.Join(' ', arguments)} failed with exit code {result.ExitCode}: {result.StandardError}",
                KubeletErrorKind.Unspecified, tool);
        return result.StandardOutput;
    }

    /// <summary>Starts <paramref name="tool"/> with its output redirected (standard input closed).</summary>
    /// <exception cref="KubeletException">The tool cannot be started.</exception>
    public static Process Start(string tool, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = new System.Text.UTF8Encoding(false),
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        // Machine-readable output in the C locale, and no pager waiting for a terminal.
        info.Environment["SYSTEMD_PAGER"] = "";
        info.Environment["SYSTEMD_COLORS"] = "0";
        info.Environment["LC_ALL"] = "C.UTF-8";
        try
        {
            var process = Process.Start(info) ?? throw new KubeletException($"{tool} did not start.", KubeletErrorKind.NotFound, tool);
            process.StandardInput.Close();
            return process;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new KubeletException($"{tool} cannot be run: {e.Message}", KubeletErrorKind.NotFound, tool, e);
        }
    }

    /// <summary>Ends a process this class started, if it still runs.</summary>
    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill();
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
    }

    private static string ProcessOneName()
    {
        try { return File.ReadAllText("/proc/1/comm").Trim(); }
        catch (IOException) { return "not systemd"; }
        catch (UnauthorizedAccessException) { return "not systemd"; }
    }
}
