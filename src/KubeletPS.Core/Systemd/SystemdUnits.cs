using System.Globalization;
using System.Text.Json;

namespace KubeletPS.Core.Systemd;

/// <summary>
/// The node's units as systemctl reports them in its machine-readable forms: `systemctl show -p …`
/// (key=value blocks, one per unit, in one call) and `systemctl list-unit-files --output=json`
/// (systemd 250 and later; `--plain --no-legend` columns before). Parsing is separate from running
/// systemctl so it is tested on systemctl's own output.
/// </summary>
public static class SystemdUnits
{
    /// <summary>The properties read for each unit.</summary>
    public static readonly IReadOnlyList<string> Properties =
        ["Id", "Description", "LoadState", "UnitFileState", "ActiveState", "SubState", "MainPID", "ActiveEnterTimestamp", "FragmentPath", "DropInPaths", "ExecStart"];

    /// <summary>The units a kubelet node depends on besides the agent's, in the order they are listed.</summary>
    public static readonly IReadOnlyList<string> NodeServices = ["containerd.service", "kubelet.service", "open-iscsi.service", "iscsid.service"];

    /// <summary>"kubeletps" or "kubeletps.service" → "kubeletps.service"; other suffixes are kept.</summary>
    public static string UnitName(string name) =>
        name.Contains('.', StringComparison.Ordinal) && !name.EndsWith('.') && KnownSuffix(name) ? name : name + ".service";

    /// <summary>
    /// The node's kubelet-related units: containerd, the agent's unit, kubelet, open-iscsi, iscsid and
    /// every unit the agent's unit file names in After=, Wants= or Requires=. containerd and the agent's
    /// unit are always listed (LoadState not-found when missing); the others only where they exist.
    /// </summary>
    /// <exception cref="KubeletException">systemd does not run this machine, or systemctl fails.</exception>
    public static async Task<IReadOnlyList<SystemdUnitStatus>> NodeUnitsAsync(string agentUnit, CancellationToken cancellationToken)
    {
        var agent = UnitName(agentUnit);
        var first = await ShowAsync([NodeServices[0], agent, .. NodeServices.Skip(1)], cancellationToken).ConfigureAwait(false);
        var named = first.FirstOrDefault(u => u.Name == agent) is { LoadState: not "not-found" } agentStatus
            ? UnitFileDependencies(agentStatus).Where(n => !first.Any(u => u.Name == n)).ToList()
            : [];
        var dependencies = named.Count == 0 ? [] : await ShowAsync(named, cancellationToken).ConfigureAwait(false);
        return [.. first.Concat(dependencies).Where(u => u.Name == NodeServices[0] || u.Name == agent || u.LoadState != "not-found")];
    }

    /// <summary>systemctl show for the units, in one call; one status per unit, in the order asked.</summary>
    /// <exception cref="KubeletException">systemd does not run this machine, or systemctl fails.</exception>
    public static async Task<IReadOnlyList<SystemdUnitStatus>> ShowAsync(IReadOnlyList<string> units, CancellationToken cancellationToken)
    {
        SystemdTools.EnsureBooted("reading the node's services");
        if (units.Count == 0) return [];
        var output = await SystemdTools.RunCheckedAsync("systemctl",
            ["show", "--timestamp=unix", "-p", string.Join(',', Properties), "--", .. units.Select(UnitName)], cancellationToken).ConfigureAwait(false);
        return ParseShow(output);
    }

    /// <summary>The enabled service units (systemctl list-unit-files --type=service --state=enabled).</summary>
    /// <exception cref="KubeletException">systemd does not run this machine, or systemctl fails.</exception>
    public static async Task<IReadOnlyList<string>> EnabledServicesAsync(CancellationToken cancellationToken)
    {
        SystemdTools.EnsureBooted("listing the node's services");
        string[] list = ["list-unit-files", "--type=service", "--state=enabled", "--no-pager"];
        var json = await SystemdTools.RunAsync("systemctl", [.. list, "--output=json"], cancellationToken).ConfigureAwait(false);
        if (json.ExitCode == 0 && json.StandardOutput.TrimStart().StartsWith('['))
            return ParseUnitFilesJson(json.StandardOutput);
        var plain = await SystemdTools.RunCheckedAsync("systemctl", [.. list, "--plain", "--no-legend"], cancellationToken).ConfigureAwait(false);
        return ParseUnitFilesPlain(plain);
    }

    /// <summary>
    /// Every enabled service with its state. A template (getty@.service) has no state of its own
    /// (systemctl show refuses it): it is listed with its unit-file state only.
    /// </summary>
    /// <exception cref="KubeletException">systemd does not run this machine, or systemctl fails.</exception>
    public static async Task<IReadOnlyList<SystemdUnitStatus>> EnabledServiceStatusesAsync(CancellationToken cancellationToken)
    {
        var names = await EnabledServicesAsync(cancellationToken).ConfigureAwait(false);
        var shown = await ShowAsync([.. names.Where(n => !IsTemplate(n))], cancellationToken).ConfigureAwait(false);
        return [.. names.Select(n => IsTemplate(n)
            ? new SystemdUnitStatus { Name = n, UnitFileState = "enabled" }
            : shown.First(u => u.Name == n))];
    }

    /// <summary>A template unit: "name@.service" (its instances are "name@instance.service").</summary>
    public static bool IsTemplate(string name) => name.Contains("@.", StringComparison.Ordinal);

    /// <summary>
    /// Parses `systemctl show` output: blocks of Key=value lines separated by a blank line, one per
    /// unit in the order asked (systemctl prints a unit's properties in its own order).
    /// </summary>
    public static IReadOnlyList<SystemdUnitStatus> ParseShow(string output)
    {
        var units = new List<SystemdUnitStatus>();
        var block = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                if (block.Count > 0) units.Add(FromProperties(block));
                block = new Dictionary<string, string>(StringComparer.Ordinal);
                continue;
            }
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0) continue;
            // ExecStart is printed once per command; the first is the one that starts the main process.
            block.TryAdd(line[..equals], line[(equals + 1)..]);
        }
        if (block.Count > 0) units.Add(FromProperties(block));
        return units;
    }

    /// <summary>The unit names in `list-unit-files --output=json` ([{"unit_file":…,"state":…},…]).</summary>
    /// <exception cref="KubeletException">The output is not that JSON.</exception>
    public static IReadOnlyList<string> ParseUnitFilesJson(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return [.. document.RootElement.EnumerateArray()
                .Select(e => e.TryGetProperty("unit_file", out var name) ? name.GetString() : null)
                .OfType<string>()];
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new KubeletException($"systemctl list-unit-files --output=json printed something that is not its JSON list: {e.Message}", KubeletErrorKind.InvalidData, "systemctl", e);
        }
    }

    /// <summary>The unit names in `list-unit-files --plain --no-legend` (UNIT STATE [PRESET] columns).</summary>
    public static IReadOnlyList<string> ParseUnitFilesPlain(string output) =>
        [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ', 2)[0])
            .Where(name => name.Length > 0)];

    /// <summary>
    /// The units the unit's own files (FragmentPath and its drop-ins) name in After=, Wants= and
    /// Requires= of [Unit]: systemctl show's After= also lists systemd's implicit dependencies.
    /// </summary>
    public static IReadOnlyList<string> UnitFileDependencies(SystemdUnitStatus unit)
    {
        var names = new List<string>();
        foreach (var file in new[] { unit.FragmentPath }.Concat(unit.DropInPaths).Where(p => p.Length > 0))
        {
            string text;
            try { text = File.ReadAllText(file); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            names.AddRange(UnitFileDependencies(text));
        }
        return [.. names.Distinct(StringComparer.Ordinal)];
    }

    /// <summary>The names in After=, Wants= and Requires= of a unit file's [Unit] section; an empty value resets the list.</summary>
    public static IReadOnlyList<string> UnitFileDependencies(string unitFile)
    {
        var names = new List<string>();
        var section = "";
        foreach (var raw in unitFile.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';') continue;
            if (line[0] == '[') { section = line; continue; }
            if (section != "[Unit]") continue;
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0) continue;
            var key = line[..equals].Trim();
            if (key is not ("After" or "Wants" or "Requires")) continue;
            var value = line[(equals + 1)..].Trim();
            if (value.Length == 0) { names.Clear(); continue; }
            names.AddRange(value.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        }
        return names;
    }

    private static SystemdUnitStatus FromProperties(Dictionary<string, string> p)
    {
        string Get(string key) => p.TryGetValue(key, out var value) ? value : "";
        var execStart = Get("ExecStart");
        return new SystemdUnitStatus
        {
            Name = Get("Id"),
            Description = Get("Description"),
            LoadState = Get("LoadState"),
            UnitFileState = Get("UnitFileState"),
            ActiveState = Get("ActiveState"),
            SubState = Get("SubState"),
            MainPid = int.TryParse(Get("MainPID"), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0,
            Since = ParseUnixTimestamp(Get("ActiveEnterTimestamp")),
            FragmentPath = Get("FragmentPath"),
            DropInPaths = Get("DropInPaths").Split(' ', StringSplitOptions.RemoveEmptyEntries),
            Agent = AgentUnitParser.FromExecStart(execStart),
        };
    }

    /// <summary>--timestamp=unix prints "@seconds"; empty or "n/a" when the unit never entered the state.</summary>
    internal static DateTimeOffset? ParseUnixTimestamp(string value) =>
        value.StartsWith('@') && long.TryParse(value.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds > 0
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;

    private static bool KnownSuffix(string name) =>
        name[(name.LastIndexOf('.') + 1)..] is "service" or "socket" or "target" or "mount" or "timer" or "path" or "slice" or "scope" or "device" or "swap" or "automount";
}
