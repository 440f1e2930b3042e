namespace KubeletPS.Core;

/// <summary>What kind of failure an engine exception reports; the cmdlets map it to an ErrorCategory.</summary>
public enum KubeletErrorKind
{
    Unspecified,
    InvalidArgument,
    InvalidData,
    NotFound,
    Security,
    Connection,
    Authentication,
    PermissionDenied,
    Conflict,
    NotReady,
    Timeout,
}

/// <summary>Base of the engine's typed exceptions. Messages never carry key material.</summary>
public class KubeletException : Exception
{
    public KubeletException(string message, KubeletErrorKind category, string? target = null, Exception? inner = null)
        : base(message, inner)
    {
        Category = category;
        Target = target;
    }

    public KubeletErrorKind Category { get; }

    /// <summary>The file, endpoint or object at fault.</summary>
    public string? Target { get; }
}

/// <summary>A configuration file that is missing, does not parse, or holds an invalid value.</summary>
public sealed class KubeletConfigException : KubeletException
{
    public KubeletConfigException(string message, string? path, int? line = null, int? column = null,
        string? field = null, KubeletErrorKind category = KubeletErrorKind.InvalidData, Exception? inner = null)
        : base(Format(message, path, line, column), category, path, inner)
    {
        Path = path;
        Line = line;
        Column = column;
        Field = field;
    }

    public string? Path { get; }
    public int? Line { get; }
    public int? Column { get; }
    public string? Field { get; }

    private static string Format(string message, string? path, int? line, int? column) =>
        path is null ? message
        : line is null ? $"{path}: {message}"
        : column is null ? $"{path}:{line}: {message}"
        : $"{path}:{line}:{column}: {message}";
}
