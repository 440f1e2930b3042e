namespace KubeletPS.Core.NodeValidation;

/// <summary>How a node check ended. Inconclusive is kubeadm's WARNING: worth reading, not a failure.</summary>
public enum NodeCheckOutcome
{
    Passed,
    Failed,
    Skipped,
    Inconclusive,
}

/// <summary>
/// One node check: its name (kubeadm's where kubeadm has the check: Swap, IsPrivilegedUser…),
/// how it ended and a message — for a failure, what is wrong and what to do about it; for a
/// skipped check, why it cannot apply.
/// </summary>
public sealed record NodeCheckResult(string Name, NodeCheckOutcome Outcome, string Message)
{
    public static NodeCheckResult Pass(string name, string message) => new(name, NodeCheckOutcome.Passed, message);

    public static NodeCheckResult Fail(string name, string message) => new(name, NodeCheckOutcome.Failed, message);

    public static NodeCheckResult Skip(string name, string message) => new(name, NodeCheckOutcome.Skipped, message);

    public static NodeCheckResult Warn(string name, string message) => new(name, NodeCheckOutcome.Inconclusive, message);
}
