using KubeletPS.Core.NodeValidation;

namespace KubeletPS.Output;

/// <summary>
/// One node check that Test-KubeletNode's Preflight and Runtime groups make themselves: its
/// group, name (kubeadm's where kubeadm has the check), result and message (what to do when it failed).
/// </summary>
public sealed class KubeletNodeCheck
{
    internal KubeletNodeCheck(string group, NodeCheckResult result)
    {
        Group = group;
        Name = result.Name;
        Result = result.Outcome.ToString();
        Message = result.Message;
    }

    /// <summary>Preflight or Runtime.</summary>
    public string Group { get; }

    public string Name { get; }

    /// <summary>Passed, Failed, Skipped (cannot apply here) or Inconclusive (a warning).</summary>
    public string Result { get; }

    public string Message { get; }

    public override string ToString() => $"{Group}.{Name}: {Result}: {Message}";
}
