namespace KubeletPS.Core.NodeValidation;

/// <summary>
/// Where the node checks read the machine: /proc, /sys and the PATH. Tests point them at a
/// directory of their own; a node uses <see cref="Current"/>.
/// </summary>
public sealed record NodeHost
{
    public string ProcRoot { get; init; } = "/proc";

    public string SysRoot { get; init; } = "/sys";

    /// <summary>The directories searched for binaries, as $PATH lists them.</summary>
    public IReadOnlyList<string> SearchPath { get; init; } = [];

    /// <summary>The process id taken as "this process" (the agent may run inside it).</summary>
    public int ProcessId { get; init; } = Environment.ProcessId;

    public static NodeHost Current => new()
    {
        SearchPath = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries),
    };

    public string Proc(string relative) => Path.Combine(ProcRoot, relative);

    public string Sys(string relative) => Path.Combine(SysRoot, relative);

    /// <summary>The first executable file named <paramref name="name"/> in the search path, as exec.LookPath finds it.</summary>
    public string? LookPath(string name)
    {
        foreach (var directory in SearchPath)
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate) && (OperatingSystem.IsWindows()
                || (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0))
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>A /proc or /sys file's content, trimmed; null when it does not exist or cannot be read.</summary>
    public static string? ReadSmallFile(string path) => ReadSmallFileAll(path)?.Trim();

    /// <summary>
    /// A /proc or /sys file's content as it is (these files report size 0, so it is read to its
    /// end, at most 16 MiB); null when it does not exist or cannot be read.
    /// </summary>
    public static string? ReadSmallFileAll(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
            using var reader = new StreamReader(stream, System.Text.Encoding.UTF8);
            const int Limit = 16 * 1024 * 1024;
            var text = new System.Text.StringBuilder();
            var chunk = new char[64 * 1024];
            int read;
            while (text.Length < Limit && (read = reader.Read(chunk, 0, chunk.Length)) > 0) text.Append(chunk, 0, read);
            return text.ToString();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
