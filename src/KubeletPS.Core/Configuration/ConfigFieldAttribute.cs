namespace KubeletPS.Core.Configuration;

/// <summary>
/// Names a property's key in the YAML file (its Go json tag). The reader maps keys to
/// properties by this name only; keys without a property are unknown fields.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ConfigFieldAttribute(string name) : Attribute
{
    public string Name { get; } = name;

    /// <summary>The field also takes an integer number of nanoseconds (component-base's TimeOrMetaDuration).</summary>
    public bool AcceptsNanoseconds { get; init; }

    /// <summary>The value is secret (a key or token): never shown in settings, messages or ToString.</summary>
    public bool Secret { get; init; }
}
