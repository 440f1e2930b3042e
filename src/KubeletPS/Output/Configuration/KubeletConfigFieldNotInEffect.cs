using KubeletPS.Core.Configuration;

namespace KubeletPS.Output;

/// <summary>
/// A field the kubelet configuration file sets that the agent does not act on, as
/// Get-KubeletConfig lists it under NotInEffect: where the file sets it and why it has no effect.
/// Value is the value as the file writes it, null for a secret field.
/// </summary>
public sealed class KubeletConfigFieldNotInEffect
{
    internal KubeletConfigFieldNotInEffect(ConfigFieldNotInEffect field)
    {
        Field = field.Field;
        Path = field.File;
        Line = field.Line;
        Column = field.Column;
        Value = field.Value;
        Reason = field.Reason;
    }

    /// <summary>The field's path in the file, e.g. "evictionHard" or "authentication.webhook.enabled".</summary>
    public string Field { get; }

    /// <summary>The configuration file that sets the field.</summary>
    public string Path { get; }

    public int Line { get; }
    public int Column { get; }
    public string? Value { get; }
    public string Reason { get; }

    public override string ToString() => $"{Path}:{Line}:{Column}: {Field} is set but not in effect: {Reason}";
}
