using System.Text.RegularExpressions;

namespace KubeletPS.Core.Pods.Validation;

/// <summary>
/// apimachinery's pkg/util/validation name checks, with their messages: each returns the reasons a value
/// is not valid (empty when it is).
/// </summary>
public static partial class NameValidation
{
    private const string Dns1123LabelFormat = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
    private const string Dns1123SubdomainFormat = Dns1123LabelFormat + "(\\." + Dns1123LabelFormat + ")*";
    private const string QualifiedNameFormat = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
    private const string LabelValueFormat = "(" + QualifiedNameFormat + ")?";
    private const string QualifiedNameMessage = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

    public const int Dns1123LabelMaxLength = 63;
    public const int Dns1123SubdomainMaxLength = 253;
    public const int QualifiedNameMaxLength = 63;
    public const int LabelValueMaxLength = 63;

    [GeneratedRegex("^" + Dns1123LabelFormat + "$")] private static partial Regex Dns1123Label();
    [GeneratedRegex("^" + Dns1123SubdomainFormat + "$")] private static partial Regex Dns1123Subdomain();
    [GeneratedRegex("^" + QualifiedNameFormat + "$")] private static partial Regex QualifiedName();
    [GeneratedRegex("^" + LabelValueFormat + "$")] private static partial Regex LabelValue();
    [GeneratedRegex("^[-a-z0-9]+$")] private static partial Regex PortNameCharacters();
    [GeneratedRegex("[a-z]")] private static partial Regex PortNameLetter();

    public static List<string> IsDns1123Label(string value) => LengthAndFormat(value, Dns1123LabelMaxLength, Dns1123Label(),
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        Dns1123LabelFormat, "my-name", "123-abc");

    public static List<string> IsDns1123Subdomain(string value) => LengthAndFormat(value, Dns1123SubdomainMaxLength, Dns1123Subdomain(),
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        Dns1123SubdomainFormat, "example.com");

    /// <summary>A label key or annotation key: an optional DNS subdomain prefix and '/', then a name of at most 63 characters.</summary>
    public static List<string> IsQualifiedName(string value)
    {
        var errors = new List<string>();
        var parts = value.Split('/');
        string name;
        switch (parts.Length)
        {
            case 1:
                name = parts[0];
                break;
            case 2:
                name = parts[1];
                if (parts[0].Length == 0) errors.Add("prefix part must be non-empty");
                else errors.AddRange(IsDns1123Subdomain(parts[0]).Select(m => "prefix part " + m));
                break;
            default:
                errors.Add("a qualified name " + RegexError(QualifiedNameMessage, QualifiedNameFormat, "MyName", "my.name", "123-abc")
                    + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
                return errors;
        }
        if (name.Length == 0) errors.Add("name part must be non-empty");
        else if (name.Length > QualifiedNameMaxLength) errors.Add("name part " + MaxLenError(QualifiedNameMaxLength));
        if (!QualifiedName().IsMatch(name)) errors.Add("name part " + RegexError(QualifiedNameMessage, QualifiedNameFormat, "MyName", "my.name", "123-abc"));
        return errors;
    }

    public static List<string> IsValidLabelValue(string value) => LengthAndFormat(value, LabelValueMaxLength, LabelValue(),
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        LabelValueFormat, "MyValue", "my_value", "12345");

    /// <summary>An IANA service name as a port name (IsValidPortName).</summary>
    public static List<string> IsValidPortName(string port)
    {
        var errors = new List<string>();
        if (port.Length > 15) errors.Add(MaxLenError(15));
        if (!PortNameCharacters().IsMatch(port)) errors.Add("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
        if (!PortNameLetter().IsMatch(port)) errors.Add("must contain at least one letter (a-z)");
        if (port.Contains("--", StringComparison.Ordinal)) errors.Add("must not contain consecutive hyphens");
        if (port.Length > 0 && (port[0] == '-' || port[^1] == '-')) errors.Add("must not begin or end with a hyphen");
        return errors;
    }

    public static List<string> IsValidPortNum(long port) =>
        port is >= 1 and <= 65535 ? [] : [InclusiveRangeError(1, 65535)];

    /// <summary>A user or group ID: 0 to 2147483647.</summary>
    public static List<string> IsValidId(long id) =>
        id is >= 0 and <= int.MaxValue ? [] : [InclusiveRangeError(0, int.MaxValue)];

    public static string InclusiveRangeError(long low, long high) => $"must be between {low} and {high}, inclusive";

    private static string MaxLenError(int length) => $"must be no more than {length} characters";

    /// <summary>apimachinery's check of a name against a maximum length and then a format; both reasons when both fail.</summary>
    private static List<string> LengthAndFormat(string value, int maxLength, Regex format, string message, string formatText, params string[] examples)
    {
        var errors = new List<string>();
        if (value.Length > maxLength) errors.Add(MaxLenError(maxLength));
        if (!format.IsMatch(value)) errors.Add(RegexError(message, formatText, examples));
        return errors;
    }

    /// <summary>apimachinery's RegexError, spacing included.</summary>
    private static string RegexError(string message, string format, params string[] examples) =>
        message + " (e.g. " + string.Join(" or ", examples.Select(e => $"'{e}', ")) + "regex used for validation is '" + format + "')";
}
