namespace KubeletPS.Core.Configuration;

/// <summary>
/// A field the configuration file sets (not a default) that the agent does not act on, where the
/// file sets it, its value as written (null for a secret field) and why it has no effect.
/// </summary>
public sealed record ConfigFieldNotInEffect(string File, string Field, int Line, int Column, string? Value, string Reason)
{
    /// <summary>The warning an agent writes when it starts: "config.yaml:12:1: evictionHard is set but not in effect: …".</summary>
    public override string ToString() => $"{File}:{Line}:{Column}: {Field} is set but not in effect: {Reason}";
}
