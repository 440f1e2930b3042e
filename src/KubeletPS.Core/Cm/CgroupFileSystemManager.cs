using System.Globalization;
using KubeletPS.Core.Stats;

namespace KubeletPS.Core.Cm;

/// <summary>
/// The cgroup manager over the cgroup file systems at <c>/sys/fs/cgroup</c> (injectable: tests use a
/// directory tree). cgroup v2 when the root has cgroup.controllers (the unified hierarchy), else v1 — a
/// hybrid node (v1 controllers beside a "unified" mount) is v1, as runc and kubelet treat it. v1: one
/// directory per controller (cpu, cpuacct, memory, pids; cpu.shares, cpu.cfs_period_us,
/// cpu.cfs_quota_us, memory.limit_in_bytes, pids.max); v2: one directory, cpu.weight, cpu.max,
/// memory.max, pids.max, with cpu, memory and pids enabled in every parent's cgroup.subtree_control.
/// The systemd driver names the directories as slices (kubepods.slice/kubepods-burstable.slice/…) and
/// writes them directly, as this driver does not talk to systemd over D-Bus.
/// </summary>
public sealed class CgroupFileSystemManager : ICgroupManager
{
    /// <summary>The v1 hierarchies kubelet's pod and QoS cgroups are created in (the runtime creates the rest below them).</summary>
    public static readonly IReadOnlyList<string> V1Controllers = ["cpu", "cpuacct", "memory", "pids"];

    private static readonly string[] V2Controllers = ["cpu", "memory", "pids"];

    private readonly string _root;

    /// <summary>
    /// A root outside /sys/fs/cgroup is a tree of plain directories (tests): a cgroup's files are then
    /// ordinary files, deleted with it; on the kernel's file systems rmdir alone removes a cgroup.
    /// </summary>
    private readonly bool _plainDirectories;

    public CgroupFileSystemManager(CgroupDriver driver, string root = "/sys/fs/cgroup")
    {
        Driver = driver;
        _root = root;
        _plainDirectories = !Path.GetFullPath(root).StartsWith("/sys/fs/cgroup", StringComparison.Ordinal);
        Version = File.Exists(Path.Combine(root, "cgroup.controllers")) ? CgroupVersion.V2 : CgroupVersion.V1;
    }

    public CgroupDriver Driver { get; }
    public CgroupVersion Version { get; }

    public string Name(CgroupName name) => name.ToDriverForm(Driver);

    public bool Exists(CgroupName name) => Version == CgroupVersion.V2
        ? Directory.Exists(Dir(_root, name))
        : V1Controllers.All(c => !Directory.Exists(Path.Combine(_root, c)) || Directory.Exists(Dir(Path.Combine(_root, c), name)));

    public void Create(CgroupName name, ResourceConfig resources)
    {
        if (Version == CgroupVersion.V2)
        {
            EnableControllers(name);
            MakeDirectory(Dir(_root, name));
        }
        else
        {
            foreach (var hierarchy in V1Hierarchies()) MakeDirectory(Dir(hierarchy, name));
        }
        Update(name, resources);
    }

    public void Update(CgroupName name, ResourceConfig resources)
    {
        if (Version == CgroupVersion.V2) UpdateV2(Dir(_root, name), resources);
        else UpdateV1(name, resources);
    }

    public void Destroy(CgroupName name)
    {
        var hierarchies = Version == CgroupVersion.V2 ? [_root] : AllV1Hierarchies();
        foreach (var hierarchy in hierarchies)
        {
            var dir = Dir(hierarchy, name);
            if (Directory.Exists(dir)) RemoveTree(dir);
        }
    }

    public bool HasProcesses(CgroupName name)
    {
        var dir = Version == CgroupVersion.V2 ? Dir(_root, name) : Dir(Path.Combine(_root, "memory"), name);
        return Directory.Exists(dir) && HasProcesses(dir);
    }

    private static bool HasProcesses(string dir)
    {
        try
        {
            var procs = Path.Combine(dir, "cgroup.procs");
            if (File.Exists(procs) && File.ReadAllText(procs).Trim().Length > 0) return true;
            return Directory.EnumerateDirectories(dir).Any(HasProcesses);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true; // removed meanwhile, or unreadable: not ours to remove now
        }
    }

    public IReadOnlyList<CgroupName> Children(CgroupName name)
    {
        var dir = Version == CgroupVersion.V2 ? Dir(_root, name) : Dir(Path.Combine(_root, "memory"), name);
        if (!Directory.Exists(dir)) return [];
        var children = new List<CgroupName>();
        foreach (var child in Directory.EnumerateDirectories(dir))
        {
            var parsed = CgroupName.Parse(Path.GetFileName(child), Driver);
            // A systemd slice's name holds its whole path; cgroupfs' directory is one component.
            children.Add(Driver == CgroupDriver.Systemd ? parsed : name.Child(parsed.Components.Single()));
        }
        return children;
    }

    /// <summary>The cgroup's directory in one hierarchy: the driver's form below <paramref name="hierarchy"/>.</summary>
    public static string Dir(string hierarchy, CgroupName name, CgroupDriver driver) =>
        name.IsRoot ? hierarchy : Path.Combine(hierarchy, name.ToDriverForm(driver).TrimStart('/'));

    private string Dir(string hierarchy, CgroupName name) => Dir(hierarchy, name, Driver);

    private IEnumerable<string> V1Hierarchies() =>
        V1Controllers.Select(c => Path.Combine(_root, c)).Where(Directory.Exists);

    /// <summary>Every v1 hierarchy (the runtime's cgroups below a pod's reach cpuset, devices, freezer… too).</summary>
    private IEnumerable<string> AllV1Hierarchies() =>
        Directory.Exists(_root) ? Directory.EnumerateDirectories(_root).Where(d => Path.GetFileName(d) != "unified") : [];

    private void UpdateV1(CgroupName name, ResourceConfig r)
    {
        var cpu = Dir(Path.Combine(_root, "cpu"), name);
        if (r.CpuShares is { } shares) Write(cpu, "cpu.shares", shares);
        if (r.CpuPeriod is { } period and > 0) Write(cpu, "cpu.cfs_period_us", period);
        if (r.CpuQuota is { } quota) Write(cpu, "cpu.cfs_quota_us", quota > 0 ? quota : -1);
        if (r.Memory is { } memory) Write(Dir(Path.Combine(_root, "memory"), name), "memory.limit_in_bytes", memory > 0 ? memory : -1);
        if (r.PidsLimit is { } pids) WriteText(Dir(Path.Combine(_root, "pids"), name), "pids.max", pids > 0 ? pids.ToString(CultureInfo.InvariantCulture) : "max");
    }

    private static void UpdateV2(string dir, ResourceConfig r)
    {
        if (r.CpuShares is { } shares) Write(dir, "cpu.weight", CgroupCpu.CpuSharesToCpuWeight(shares));
        if (r.CpuQuota is { } quota)
        {
            var period = r.CpuPeriod is { } p and > 0 ? p : CgroupCpu.QuotaPeriod;
            WriteText(dir, "cpu.max", string.Create(CultureInfo.InvariantCulture, $"{(quota > 0 ? quota.ToString(CultureInfo.InvariantCulture) : "max")} {period}"));
        }
        if (r.Memory is { } memory) WriteText(dir, "memory.max", memory > 0 ? memory.ToString(CultureInfo.InvariantCulture) : "max");
        if (r.PidsLimit is { } pids) WriteText(dir, "pids.max", pids > 0 ? pids.ToString(CultureInfo.InvariantCulture) : "max");
    }

    /// <summary>v2: a controller is usable in a cgroup only when every parent enables it for its children.</summary>
    private void EnableControllers(CgroupName name)
    {
        var available = ReadControllers(Path.Combine(_root, "cgroup.controllers"));
        var wanted = V2Controllers.Where(available.Contains).ToList();
        if (wanted.Count == 0) return;
        var levels = new List<CgroupName>();
        for (var level = name.Parent; level is not null; level = level.Parent) levels.Insert(0, level);
        // Systemd slices nest by name: the parent of kubepods-burstable.slice is kubepods.slice.
        foreach (var level in levels)
        {
            var dir = Dir(_root, level);
            MakeDirectory(dir);
            var enabled = ReadControllers(Path.Combine(dir, "cgroup.subtree_control"));
            var missing = wanted.Where(c => !enabled.Contains(c)).ToList();
            if (missing.Count > 0) WriteText(dir, "cgroup.subtree_control", string.Join(' ', missing.Select(c => "+" + c)));
        }
    }

    private static HashSet<string> ReadControllers(string file) =>
        File.Exists(file) ? File.ReadAllText(file).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal) : [];

    private static void MakeDirectory(string dir)
    {
        try { Directory.CreateDirectory(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CgroupException($"cannot create cgroup {dir}: {e.Message}", dir, e);
        }
    }

    private static void Write(string dir, string file, long value) => WriteText(dir, file, value.ToString(CultureInfo.InvariantCulture));

    private static void WriteText(string dir, string file, string value)
    {
        var path = Path.Combine(dir, file);
        try { File.WriteAllText(path, value); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CgroupException($"cannot write \"{value}\" to {path}: {e.Message}", path, e);
        }
    }

    /// <summary>rmdir bottom-up: a cgroup directory's files are the kernel's and go with it.</summary>
    private void RemoveTree(string dir)
    {
        foreach (var child in Directory.EnumerateDirectories(dir)) RemoveTree(child);
        try
        {
            Directory.Delete(dir, recursive: _plainDirectories);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CgroupException($"cannot remove cgroup {dir}: {e.Message}", dir, e);
        }
    }
}
