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
public class KubeletException(string message, KubeletErrorKind category, string? target = null, Exception? inner = null)
    : Exception(message, inner)
{
    public KubeletErrorKind Category { get; } = category;

    /// <summary>The file, endpoint or object at fault.</summary>
    public string? Target { get; } = target;
}

/// <summary>A configuration file that is missing, does not parse, or holds an invalid value.</summary>
public sealed class KubeletConfigException(string message, string? path, int? line = null, int? column = null,
    string? field = null, KubeletErrorKind category = KubeletErrorKind.InvalidData, Exception? inner = null)
    : KubeletException(Format(message, path, line, column), category, path, inner)
{
    public string? Path { get; } = path;
    public int? Line { get; } = line;
    public int? Column { get; } = column;
    public string? Field { get; } = field;

    private static string Format(string message, string? path, int? line, int? column) =>
        path is null ? message
        : line is null ? $"{path}: {message}"
        : column is null ? $"{path}:{line}: {message}"
        : $"{path}:{line}:{column}: {message}";
}
