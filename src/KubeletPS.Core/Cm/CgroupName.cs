namespace KubeletPS.Core.Cm;

/// <summary>kubelet's cgroupDriver: how a cgroup name becomes a path (cgroupfs) or a systemd slice (systemd).</summary>
public enum CgroupDriver
{
    Cgroupfs,
    Systemd,
}

/// <summary>
/// A cgroup by its components, independent of the driver (kubelet's cm.CgroupName): ["kubepods",
/// "burstable", "pod&lt;uid&gt;"] is <c>/kubepods/burstable/pod&lt;uid&gt;</c> with cgroupfs and
/// <c>/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod&lt;uid&gt;.slice</c> with systemd
/// (ConvertCgroupNameToSystemd: each component's '-' escaped to '_', joined with '-', the slice expanded).
/// </summary>
public sealed record CgroupName
{
    private const string SystemdSuffix = ".slice";

    /// <summary>
    /// Each component is one directory: a component holding '/' or NUL, or "." or "..", is refused, or a pod
    /// UID such as "x/../../escape" would name a cgroup outside kubepods.
    /// </summary>
    public CgroupName(IEnumerable<string> components)
    {
        Components = components.Where(c => c.Length > 0).ToArray();
        foreach (var component in Components)
        {
            if (component is "." or ".." || component.Contains('/', StringComparison.Ordinal) || component.Contains('\0', StringComparison.Ordinal))
                throw new CgroupException($"cgroup name component '{component}' is not a single directory name ('/', NUL, '.' and '..' are not allowed).", component);
        }
    }

    public IReadOnlyList<string> Components { get; }

    /// <summary>The root cgroup ("/").</summary>
    public static CgroupName Root { get; } = new([]);

    public bool IsRoot => Components.Count == 0;

    public CgroupName Child(string component) => new(Components.Append(component));

    public CgroupName? Parent => IsRoot ? null : new CgroupName(Components.Take(Components.Count - 1));

    /// <summary>kubelet's ParseCgroupfsToCgroupName: "/a/b" is ["a","b"].</summary>
    public static CgroupName ParseCgroupfs(string path) => new(path.Split('/', StringSplitOptions.RemoveEmptyEntries));

    /// <summary>kubelet's ParseSystemdToCgroupName: the last slice's name, split at '-', each part unescaped ('_' back to '-').</summary>
    public static CgroupName ParseSystemd(string path)
    {
        var last = path.TrimEnd('/');
        last = last[(last.LastIndexOf('/') + 1)..];
        if (last.EndsWith(SystemdSuffix, StringComparison.Ordinal)) last = last[..^SystemdSuffix.Length];
        if (last.Length == 0 || last == "-") return Root;
        return new CgroupName(last.Split('-').Select(p => p.Replace('_', '-')));
    }

    public static CgroupName Parse(string path, CgroupDriver driver) => driver == CgroupDriver.Systemd ? ParseSystemd(path) : ParseCgroupfs(path);

    /// <summary>The cgroupfs form: "/" joined components.</summary>
    public string ToCgroupfs() => "/" + string.Join('/', Components);

    /// <summary>The systemd form, expanded as libcontainer's ExpandSlice does: "/a.slice/a-b.slice/a-b-c.slice".</summary>
    public string ToSystemd()
    {
        if (IsRoot) return "/";
        var parts = Components.Select(Escape).ToList();
        var path = new System.Text.StringBuilder();
        for (var i = 1; i <= parts.Count; i++) path.Append('/').Append(string.Join('-', parts.Take(i))).Append(SystemdSuffix);
        return path.ToString();
    }

    /// <summary>The last slice's unit name (systemd form), e.g. "kubepods-burstable-pod&lt;uid&gt;.slice".</summary>
    public string SystemdSliceName() => IsRoot ? "-.slice" : string.Join('-', Components.Select(Escape)) + SystemdSuffix;

    /// <summary>The name as the driver writes it (kubelet's cgroupManager.Name).</summary>
    public string ToDriverForm(CgroupDriver driver) => driver == CgroupDriver.Systemd ? ToSystemd() : ToCgroupfs();

    public override string ToString() => ToCgroupfs();

    /// <summary>kubelet's escapeSystemdCgroupName: '-' separates slice levels, so it becomes '_'.</summary>
    private static string Escape(string part) => part.Replace('-', '_');

    public bool Equals(CgroupName? other) => other is not null && Components.SequenceEqual(other.Components, StringComparer.Ordinal);

    public override int GetHashCode() => string.Join('/', Components).GetHashCode(StringComparison.Ordinal);
}
