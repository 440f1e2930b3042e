using System.Runtime.InteropServices;

namespace KubeletPS.TestCluster.Runtime;

/// <summary>The few libc calls the private containerd needs (signals and mounts).</summary>
internal static class LinuxNative
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    public const int MNT_DETACH = 2;

    // DllImport rather than LibraryImport: no unsafe code needed; strings are UTF-8 on Linux.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static extern int Kill(int pid, int signal);

    [DllImport("libc", EntryPoint = "mount", SetLastError = true)]
    public static extern int Mount(string source, string target, string fileSystemType, ulong flags, string data);

    [DllImport("libc", EntryPoint = "umount2", SetLastError = true)]
    public static extern int Unmount(string target, int flags);

    public static bool IsAlive(int pid) => Directory.Exists($"/proc/{pid}");

    /// <summary>Mount points at or below <paramref name="root"/>, deepest first (the order to unmount them).</summary>
    public static IReadOnlyList<string> MountsUnder(string root)
    {
        var prefix = root.TrimEnd('/') + "/";
        var result = new List<string>();
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // Field 5 is the mount point, with spaces and such escaped as octal.
            var fields = line.Split(' ');
            if (fields.Length > 4)
            {
                var mountPoint = Unescape(fields[4]);
                if (mountPoint == root.TrimEnd('/') || mountPoint.StartsWith(prefix, StringComparison.Ordinal))
                {
                    result.Add(mountPoint);
                }
            }
        }

        result.Reverse();
        return result;
    }

    private static string Unescape(string value)
    {
        if (!value.Contains('\\'))
        {
            return value;
        }

        var builder = new System.Text.StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 3 < value.Length)
            {
                builder.Append((char)Convert.ToInt32(value.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                builder.Append(value[i]);
            }
        }

        return builder.ToString();
    }
}
