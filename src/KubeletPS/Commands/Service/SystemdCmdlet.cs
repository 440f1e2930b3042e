using System.Management.Automation;
using KubeletPS.Core;

namespace KubeletPS.Commands;

/// <summary>
/// Base of the cmdlets over systemctl and journalctl: one mapping of their engine errors to ErrorIds.
/// "systemd does not run this machine" is &lt;Cmdlet&gt;NoSystemd with category ResourceUnavailable.
/// </summary>
public abstract class SystemdCmdlet : KubeletCmdlet
{
    /// <summary>The ErrorRecord for an engine failure of this cmdlet (<paramref name="prefix"/> is its ErrorIds prefix).</summary>
    protected static ErrorRecord SystemdError(KubeletException e, string prefix, object? target)
    {
        var problem = e.Category switch
        {
            KubeletErrorKind.NotReady => "NoSystemd",
            KubeletErrorKind.NotFound => "NotFound",
            KubeletErrorKind.InvalidArgument => "InvalidArgument",
            KubeletErrorKind.Conflict => "NotWrittenByInstall",
            KubeletErrorKind.PermissionDenied => "AccessDenied",
            _ => "Failed",
        };
        return EngineError(e, prefix + problem, e.Target ?? target);
    }
}
