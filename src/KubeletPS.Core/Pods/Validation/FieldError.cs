using System.Globalization;
using System.Text;

namespace KubeletPS.Core.Pods.Validation;

/// <summary>
/// One field-level validation error, printed as apimachinery's field.Error prints it
/// (<c>metadata.name: Invalid value: "Bad_Name!": a lowercase RFC 1123 subdomain …</c>).
/// <paramref name="At"/> is where in the document to look for its line when the API's field path
/// does not say (a label's key: <c>metadata.labels[app]</c>); it defaults to <paramref name="Field"/>.
/// </summary>
public sealed record FieldError(string Field, string Type, object? Value, string Detail, bool ShowsValue = true, string? At = null)
{
    public static FieldError Invalid(string field, object? value, string detail, string? at = null) => new(field, "Invalid value", value, detail, At: at);
    public static FieldError Required(string field, string detail = "") => new(field, "Required value", null, detail, ShowsValue: false);
    public static FieldError Duplicate(string field, object? value) => new(field, "Duplicate value", value, "");
    public static FieldError NotFound(string field, object? value) => new(field, "Not found", value, "");
    public static FieldError Forbidden(string field, string detail) => new(field, "Forbidden", null, detail, ShowsValue: false);
    public static FieldError TooLong(string field, int maxBytes) => new(field, "Too long", null, $"must have at most {maxBytes} bytes", ShowsValue: false);

    public static FieldError NotSupported(string field, object? value, IEnumerable<string> supported) =>
        new(field, "Unsupported value", value, "supported values: " + string.Join(", ", supported.Select(Quote)));

    /// <summary>The document path whose line the error is reported at.</summary>
    public string Location => At ?? Field;

    public override string ToString()
    {
        var body = new StringBuilder(Type);
        if (ShowsValue)
        {
            body.Append(": ").Append(Value switch
            {
                null => "null",
                string s => Quote(s),
                bool b => b ? "true" : "false",
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => Value.ToString(),
            });
        }
        if (Detail.Length > 0) body.Append(": ").Append(Detail);
        return $"{Field}: {body}";
    }

    /// <summary>Go's %q for the strings validation prints.</summary>
    internal static string Quote(string value)
    {
        var text = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            text.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when char.IsControl(c) => $"\\x{(int)c:x2}",
                _ => c.ToString(),
            });
        }
        return text.Append('"').ToString();
    }
}
