using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using k8s.Models;
using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Node;

/// <summary>What the node reports about the machine itself (cadvisor's MachineInfo, in kubelet).</summary>
public sealed record MachineInfo
{
    public required int CpuCount { get; init; }
    public required long MemoryCapacityBytes { get; init; }
    public required long MemoryAvailableBytes { get; init; }
    /// <summary>Huge page pools: page size in bytes → number of pages.</summary>
    public required IReadOnlyDictionary<long, long> HugePages { get; init; }
    public required long FilesystemCapacityBytes { get; init; }
    public required long FilesystemAvailableBytes { get; init; }
    public required long FilesystemInodes { get; init; }
    public required long FilesystemInodesFree { get; init; }
    public required long PidMax { get; init; }
    public required long RunningProcesses { get; init; }
    public required string MachineId { get; init; }
    public required string BootId { get; init; }
    public required string SystemUuid { get; init; }
    public required string KernelVersion { get; init; }
    public required string OsImage { get; init; }
    public required string Architecture { get; init; }
    public required string Hostname { get; init; }

    /// <summary>The node's capacity as kubelet reports it from cadvisor: CPUs, memory and nodefs, in plain units.</summary>
    public IReadOnlyDictionary<string, ResourceQuantity> Capacity() => new Dictionary<string, ResourceQuantity>
    {
        ["cpu"] = new(CpuCount.ToString(CultureInfo.InvariantCulture)),
        ["memory"] = new(MemoryCapacityBytes.ToString(CultureInfo.InvariantCulture)),
        ["ephemeral-storage"] = new(FilesystemCapacityBytes.ToString(CultureInfo.InvariantCulture)),
    };
}

/// <summary>
/// Reads <see cref="MachineInfo"/> from /proc, /sys, /etc and statfs. <c>hostRoot</c> lets tests
/// (and inspection of a mounted node image) read another tree; the filesystem figures are
/// those of the kubelet's root directory, as kubelet reports nodefs.
/// </summary>
public sealed class MachineInfoReader(string hostRoot = "/", string rootDirectory = KubeletConfigurationDefaults.DefaultRootDirectory)
{
    private static readonly Lazy<long> HostMemory = new(() =>
    {
        var total = new MachineInfoReader().ReadMeminfo().GetValueOrDefault("MemTotal");
        return total > 0 ? total : GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    });

    /// <summary>
    /// This machine's memory (MemTotal), read once: it does not change while the process runs. Without
    /// /proc/meminfo, what the runtime sees as available.
    /// </summary>
    public static long HostMemoryCapacityBytes => HostMemory.Value;

    public MachineInfo Read()
    {
        var meminfo = ReadMeminfo();
        var (fsCapacity, fsAvailable, inodes, inodesFree) = StatFilesystem(ExistingAncestor(rootDirectory));
        return new MachineInfo
        {
            CpuCount = CountCpus(),
            MemoryCapacityBytes = meminfo.GetValueOrDefault("MemTotal"),
            MemoryAvailableBytes = meminfo.GetValueOrDefault("MemAvailable", meminfo.GetValueOrDefault("MemFree")),
            HugePages = ReadHugePages(),
            FilesystemCapacityBytes = fsCapacity,
            FilesystemAvailableBytes = fsAvailable,
            FilesystemInodes = inodes,
            FilesystemInodesFree = inodesFree,
            PidMax = long.TryParse(ReadText("proc/sys/kernel/pid_max"), out var pidMax) ? pidMax : 32768,
            RunningProcesses = CountProcesses(),
            MachineId = ReadText("etc/machine-id") ?? "",
            BootId = ReadText("proc/sys/kernel/random/boot_id") ?? "",
            SystemUuid = (ReadText("sys/class/dmi/id/product_uuid") ?? "").ToUpperInvariant(),
            KernelVersion = ReadText("proc/sys/kernel/osrelease") ?? "",
            OsImage = ReadOsImage(),
            Architecture = GoArchitecture(RuntimeInformation.OSArchitecture),
            Hostname = (ReadText("proc/sys/kernel/hostname") ?? Dns.GetHostName()).ToLowerInvariant(),
        };
    }

    /// <summary>Go's GOARCH names, which Kubernetes uses for kubernetes.io/arch.</summary>
    public static string GoArchitecture(Architecture architecture) => architecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "amd64",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        System.Runtime.InteropServices.Architecture.Arm => "arm",
        System.Runtime.InteropServices.Architecture.X86 => "386",
        System.Runtime.InteropServices.Architecture.S390x => "s390x",
        System.Runtime.InteropServices.Architecture.Ppc64le => "ppc64le",
        _ => architecture.ToString().ToLowerInvariant(),
    };

    private string HostPath(string relative) => Path.Combine(hostRoot, relative);

    private string? ReadText(string relative)
    {
        try { return File.ReadAllText(HostPath(relative)).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    private Dictionary<string, long> ReadMeminfo()
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        var text = ReadText("proc/meminfo") ?? "";
        foreach (var line in text.Split('\n'))
        {
            var colon = line.IndexOf(':');
            if (colon < 0) continue;
            var parts = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0 || !long.TryParse(parts[0], out var value)) continue;
            values[line[..colon]] = parts.Length > 1 && parts[1] == "kB" ? value * 1024 : value;
        }
        return values;
    }

    /// <summary>CPUs this process may run on, as nproc counts them (Cpus_allowed_list).</summary>
    private int CountCpus()
    {
        var status = ReadText("proc/self/status");
        var line = status?.Split('\n').FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal));
        if (line is null) return Environment.ProcessorCount;
        var count = 0;
        foreach (var range in line["Cpus_allowed_list:".Length..].Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var bounds = range.Split('-');
            count += bounds.Length == 2 ? int.Parse(bounds[1], System.Globalization.CultureInfo.InvariantCulture) - int.Parse(bounds[0], System.Globalization.CultureInfo.InvariantCulture) + 1 : 1;
        }
        return count > 0 ? count : Environment.ProcessorCount;
    }

    private Dictionary<long, long> ReadHugePages()
    {
        var pools = new Dictionary<long, long>();
        var dir = HostPath("sys/kernel/mm/hugepages");
        if (!Directory.Exists(dir)) return pools;
        foreach (var pool in Directory.EnumerateDirectories(dir, "hugepages-*kB"))
        {
            var sizeText = Path.GetFileName(pool)["hugepages-".Length..^"kB".Length];
            if (!long.TryParse(sizeText, out var sizeKb)) continue;
            var count = ReadText(Path.Combine(pool, "nr_hugepages"));
            pools[sizeKb * 1024] = long.TryParse(count, out var n) ? n : 0;
        }
        return pools;
    }

    private long CountProcesses()
    {
        var proc = HostPath("proc");
        if (!Directory.Exists(proc)) return 0;
        return Directory.EnumerateDirectories(proc).Count(d => Path.GetFileName(d).All(char.IsAsciiDigit));
    }

    private string ReadOsImage()
    {
        var text = ReadText("etc/os-release") ?? ReadText("usr/lib/os-release") ?? "";
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal)) return line["PRETTY_NAME=".Length..].Trim('"');
        }
        return RuntimeInformation.OSDescription;
    }

    private static string ExistingAncestor(string path)
    {
        var current = Path.GetFullPath(path);
        while (!Directory.Exists(current))
        {
            var parent = Path.GetDirectoryName(current);
            if (parent is null) return "/";
            current = parent;
        }
        return current;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct StatVfs
    {
        public ulong f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_favail, f_fsid, f_flag, f_namemax;
        private readonly int _spare0, _spare1, _spare2, _spare3, _spare4, _spare5;
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "statvfs")]
    private static extern int NativeStatVfs([MarshalAs(UnmanagedType.LPUTF8Str)] string path, out StatVfs buffer);

    /// <summary>statvfs of the filesystem holding <paramref name="path"/> (64-bit Linux layout).</summary>
    internal static (long Capacity, long Available, long Inodes, long InodesFree) StatFilesystem(string path)
    {
        if (!OperatingSystem.IsLinux() || NativeStatVfs(path, out var s) != 0)
        {
            var drive = new DriveInfo(path);
            return (drive.TotalSize, drive.AvailableFreeSpace, 0, 0);
        }
        var unit = (long)(s.f_frsize != 0 ? s.f_frsize : s.f_bsize);
        return ((long)s.f_blocks * unit, (long)s.f_bavail * unit, (long)s.f_files, (long)s.f_ffree);
    }

    /// <summary>
    /// The node's InternalIP as kubelet picks it without --node-ip: the first IPv4 address of the
    /// interface that holds the default route, else the first non-loopback address.
    /// </summary>
    public string? DetectNodeIp()
    {
        var defaultInterface = ReadText("proc/net/route")?.Split('\n').Skip(1)
            .Select(l => l.Split('\t', StringSplitOptions.RemoveEmptyEntries))
            .FirstOrDefault(f => f.Length > 2 && f[1] == "00000000")?[0];
        var interfaces = NetworkInterface.GetAllNetworkInterfaces()
            .Where(i => i.OperationalStatus != OperationalStatus.Down && i.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .OrderBy(i => i.Name == defaultInterface ? 0 : 1);
        foreach (var nic in interfaces)
        {
            var address = nic.GetIPProperties().UnicastAddresses
                .Select(a => a.Address)
                .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
            if (address is not null) return address.ToString();
        }
        return null;
    }
}
