using System.Management.Automation;

namespace KubeletPS.Commands;

/// <summary>
/// What the agent's systemd unit runs, found one way for Install-KubeletService and Join-KubeletCluster -Install: the manifest
/// of the KubeletPS module this command was loaded from, and a pwsh (this session's by default).
/// </summary>
internal static class AgentServiceFiles
{
    /// <summary>The imported module's KubeletPS.psd1; a terminating <c>&lt;prefix&gt;ModuleNotFound</c> error when the command runs outside it.</summary>
    public static string ModuleManifest(PSCmdlet cmdlet, string prefix, string command)
    {
        var module = cmdlet.MyInvocation.MyCommand.Module;
        var manifest = module is null ? null : Path.Combine(module.ModuleBase, "KubeletPS.psd1");
        if (manifest is null || !File.Exists(manifest))
        {
            cmdlet.ThrowTerminatingError(new ErrorRecord(new InvalidOperationException($"{command} must run from the imported KubeletPS module (its manifest is what the service imports)."),
                prefix + "ModuleNotFound", ErrorCategory.ObjectNotFound, manifest));
        }
        return manifest!;
    }

    /// <summary>
    /// <paramref name="pwshPath"/> (already resolved), else pwsh in this session's $PSHOME; a terminating
    /// <c>&lt;prefix&gt;PathNotFound</c> error when it is not there, with <paramref name="hint"/> on what to do.
    /// </summary>
    public static string Pwsh(PSCmdlet cmdlet, string prefix, string? pwshPath, string hint)
    {
        var pwsh = pwshPath ?? Path.Combine(cmdlet.SessionState.PSVariable.GetValue("PSHOME") as string ?? "", "pwsh");
        if (!File.Exists(pwsh))
        {
            cmdlet.ThrowTerminatingError(new ErrorRecord(new FileNotFoundException($"pwsh was not found at '{pwsh}'; {hint}.", pwsh),
                prefix + ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, pwsh));
        }
        return pwsh;
    }
}
