using System.Globalization;

namespace KubeletPS.Core.NodeValidation;

/// <summary>A process listening on a TCP port: its pid (null when no process of this namespace holds the socket), name and command line.</summary>
public sealed record PortListener(int Port, int? ProcessId, string? Command, string? CommandLine);

/// <summary>
/// Who listens on a TCP port, from /proc/net/tcp and tcp6 (state 0A, LISTEN) and the
/// socket:[inode] links under /proc/PID/fd — what <c>ss -ltnp</c> reads.
/// </summary>
public static class PortListenerLookup
{
    private const string ListenState = "0A";

    public static PortListener? Find(NodeHost host, int port)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var table in new[] { "net/tcp", "net/tcp6" })
        {
            var content = NodeHost.ReadSmallFileAll(host.Proc(table));
            if (content is null) continue;
            foreach (var line in content.Split('\n').Skip(1))
            {
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 10 || fields[3] != ListenState) continue;
                var local = fields[1];
                var colon = local.LastIndexOf(':');
                if (colon < 0 || !int.TryParse(local[(colon + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var localPort)) continue;
                if (localPort == port) inodes.Add(fields[9]);
            }
        }
        if (inodes.Count == 0) return null;

        foreach (var processDirectory in SafeDirectories(host.ProcRoot))
        {
            if (!int.TryParse(Path.GetFileName(processDirectory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            foreach (var fd in SafeEntries(Path.Combine(processDirectory, "fd")))
            {
                string? target;
                try { target = new FileInfo(fd).LinkTarget; }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
                if (target is null || !target.StartsWith("socket:[", StringComparison.Ordinal)) continue;
                if (!inodes.Contains(target[8..^1])) continue;
                var command = NodeHost.ReadSmallFile(Path.Combine(processDirectory, "comm"));
                var commandLine = NodeHost.ReadSmallFileAll(Path.Combine(processDirectory, "cmdline"))?.Replace('\0', ' ').Trim();
                return new PortListener(port, pid, command, commandLine);
            }
        }
        return new PortListener(port, null, null, null);
    }

    private static IEnumerable<string> SafeDirectories(string path)
    {
        try { return Directory.GetDirectories(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }

    private static IEnumerable<string> SafeEntries(string path)
    {
        try { return Directory.GetFileSystemEntries(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }
}
