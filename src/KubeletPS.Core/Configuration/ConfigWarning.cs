namespace KubeletPS.Core.Configuration;

/// <summary>A problem in a configuration file that kubelet tolerates, such as an unknown field.</summary>
public sealed class ConfigWarning
{
    public ConfigWarning(string file, int? line, int? column, string field, string message, bool isUnknownField)
    {
        File = file;
        Line = line;
        Column = column;
        Field = field;
        Message = message;
        IsUnknownField = isUnknownField;
    }

    public string File { get; }
    public int? Line { get; }
    public int? Column { get; }

    /// <summary>The field's path in the document, e.g. "authentication.webhook.cacheTTl".</summary>
    public string Field { get; }

    public string Message { get; }
    public bool IsUnknownField { get; }

    public override string ToString() =>
        Line is null ? $"{File}: {Message}" : $"{File}:{Line}:{Column}: {Message}";
}
