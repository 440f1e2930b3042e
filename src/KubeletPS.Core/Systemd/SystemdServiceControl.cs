namespace KubeletPS.Core.Systemd;

/// <summary>What Uninstall-KubeletService removed.</summary>
public sealed record ServiceRemoval(string Unit, IReadOnlyList<string> RemovedFiles);

/// <summary>
/// Restarting and removing the agent's unit with systemctl. Only files that Install-KubeletService
/// wrote (they start with its header) are removed, unless forced: an administrator's own unit of that
/// name is not deleted by accident.
/// </summary>
public static class SystemdServiceControl
{
    /// <summary>The first line of every file Install-KubeletService writes.</summary>
    public const string WrittenByHeader = "# Written by Install-KubeletService (KubeletPS).";

    /// <summary>The unit's status; it must exist.</summary>
    /// <exception cref="KubeletException">No such unit (NotFound), or systemd does not run this machine.</exception>
    public static async Task<SystemdUnitStatus> FindAsync(string name, CancellationToken cancellationToken)
    {
        var unit = SystemdUnits.UnitName(name);
        var status = (await SystemdUnits.ShowAsync([unit], cancellationToken).ConfigureAwait(false)).Single();
        if (status.LoadState == "not-found")
            throw new KubeletException($"systemd has no unit {unit} (LoadState=not-found).", KubeletErrorKind.NotFound, unit);
        return status;
    }

    /// <summary>systemctl restart; returns the unit's status afterwards.</summary>
    /// <exception cref="KubeletException">No such unit, or systemctl fails (the message has its error).</exception>
    public static async Task<SystemdUnitStatus> RestartAsync(string name, CancellationToken cancellationToken)
    {
        var status = await FindAsync(name, cancellationToken).ConfigureAwait(false);
        await SystemdTools.RunCheckedAsync("systemctl", ["restart", status.Name], cancellationToken).ConfigureAwait(false);
        return await FindAsync(status.Name, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The files removing the unit would delete: its unit file and the drop-ins Install-KubeletService wrote.</summary>
    /// <exception cref="KubeletException">The unit file was not written by Install-KubeletService and <paramref name="force"/> is not set.</exception>
    public static IReadOnlyList<string> FilesToRemove(SystemdUnitStatus status, bool force)
    {
        var files = new List<string>();
        if (status.FragmentPath.Length > 0)
        {
            if (!force && !WrittenByInstall(status.FragmentPath))
                throw new KubeletException($"{status.FragmentPath} was not written by Install-KubeletService (no \"{WrittenByHeader}\" first line); use -Force to remove it anyway.",
                    KubeletErrorKind.Conflict, status.FragmentPath);
            files.Add(status.FragmentPath);
        }
        files.AddRange(status.DropInPaths.Where(p => force || WrittenByInstall(p)));
        return files;
    }

    /// <summary>systemctl stop and disable, the files removed, daemon-reload and reset-failed.</summary>
    /// <exception cref="KubeletException">A systemctl step fails, or a file cannot be removed.</exception>
    public static async Task<ServiceRemoval> UninstallAsync(SystemdUnitStatus status, IReadOnlyList<string> files, CancellationToken cancellationToken)
    {
        await SystemdTools.RunCheckedAsync("systemctl", ["stop", status.Name], cancellationToken).ConfigureAwait(false);
        await SystemdTools.RunCheckedAsync("systemctl", ["disable", status.Name], cancellationToken).ConfigureAwait(false);
        foreach (var file in files)
        {
            try
            {
                File.Delete(file);
                var directory = Path.GetDirectoryName(file);
                if (directory is not null && directory.EndsWith(".d", StringComparison.Ordinal) && !Directory.EnumerateFileSystemEntries(directory).Any())
                    Directory.Delete(directory);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new KubeletException($"cannot remove {file}: {e.Message}", e is UnauthorizedAccessException ? KubeletErrorKind.PermissionDenied : KubeletErrorKind.Unspecified, file, e);
            }
        }
        await SystemdTools.RunCheckedAsync("systemctl", ["daemon-reload"], cancellationToken).ConfigureAwait(false);
        // A unit that failed before stays listed as failed until this.
        await SystemdTools.RunAsync("systemctl", ["reset-failed", status.Name], cancellationToken).ConfigureAwait(false);
        return new ServiceRemoval(status.Name, files);
    }

    private static bool WrittenByInstall(string path)
    {
        try
        {
            using var reader = new StreamReader(path);
            return reader.ReadLine()?.StartsWith(WrittenByHeader, StringComparison.Ordinal) == true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
