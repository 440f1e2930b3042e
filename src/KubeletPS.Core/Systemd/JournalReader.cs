using System.Runtime.CompilerServices;

namespace KubeletPS.Core.Systemd;

/// <summary>
/// Reads journal entries through journalctl -o json, one entry per line as journalctl writes them,
/// so a followed journal streams: each entry is yielded when its line arrives. Cancelling ends
/// journalctl (Ctrl+C on Get-KubeletLog -Follow).
/// </summary>
public static class JournalReader
{
    /// <summary>The entries the query selects, oldest first.</summary>
    /// <exception cref="KubeletException">
    /// No journal (systemd does not run this machine and no journal path is given), journalctl is missing,
    /// or it fails (the message has its error).
    /// </exception>
    public static async IAsyncEnumerable<JournalEntry> ReadAsync(JournalQuery query, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (query.JournalPath is { } path)
        {
            if (!File.Exists(path) && !Directory.Exists(path))
                throw new KubeletException($"Cannot find the journal '{path}': name a journal file (*.journal) or a directory of them.", KubeletErrorKind.NotFound, path);
        }
        else
        {
            SystemdTools.EnsureBooted("reading the journal without -JournalPath");
        }
        var arguments = query.Arguments();
        using var process = SystemdTools.Start("journalctl", arguments);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var kill = cancellationToken.Register(() => SystemdTools.Kill(process));
        try
        {
            while (await process.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0 || line[0] != '{') continue;
                yield return JournalEntry.Parse(line);
            }
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            SystemdTools.Kill(process);
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (process.ExitCode != 0)
        {
            var error = (await stderr.ConfigureAwait(false)).Trim();
            throw new KubeletException($"journalctl {string.Join(' ', arguments)} failed with exit code {process.ExitCode}: {error}",
                KubeletErrorKind.Unspecified, query.JournalPath ?? "journalctl");
        }
    }
}
