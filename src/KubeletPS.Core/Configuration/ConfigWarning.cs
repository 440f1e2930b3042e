namespace KubeletPS.Core.Configuration;

/// <summary>A problem in a configuration file that kubelet tolerates, such as an unknown field.</summary>
public sealed class ConfigWarning(string file, int? line, int? column, string field, string message, bool isUnknownField)
{
    public string File { get; } = file;
    public int? Line { get; } = line;
    public int? Column { get; } = column;

    /// <summary>The field's path in the document, e.g. "authentication.webhook.cacheTTl".</summary>
    public string Field { get; } = field;

    public string Message { get; } = message;
    public bool IsUnknownField { get; } = isUnknownField;

    public override string ToString() =>
        Line is null ? $"{File}: {Message}" : $"{File}:{Line}:{Column}: {Message}";
}
