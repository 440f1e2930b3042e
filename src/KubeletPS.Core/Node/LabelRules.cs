using System.Text.RegularExpressions;

namespace KubeletPS.Core.Node;

/// <summary>Label syntax (apimachinery validation) and the labels kubelet owns on its Node.</summary>
public static partial class LabelRules
{
    public const string Hostname = "kubernetes.io/hostname";
    public const string Os = "kubernetes.io/os";
    public const string Arch = "kubernetes.io/arch";
    public const string BetaOs = "beta.kubernetes.io/os";
    public const string BetaArch = "beta.kubernetes.io/arch";

    /// <summary>The labels kubelet sets and keeps up to date (updateDefaultLabels); others are left to their owners.</summary>
    public static readonly IReadOnlyList<string> KubeletOwned = [Hostname, Os, Arch, BetaOs, BetaArch];

    [GeneratedRegex("^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")]
    private static partial Regex QualifiedNamePart();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex Dns1123Subdomain();

    public static void ValidateKey(string key, string source)
    {
        var slash = key.IndexOf('/');
        var name = slash < 0 ? key : key[(slash + 1)..];
        var prefix = slash < 0 ? null : key[..slash];
        if (name.Length is 0 or > 63 || !QualifiedNamePart().IsMatch(name)
            || (prefix is not null && (prefix.Length > 253 || !Dns1123Subdomain().IsMatch(prefix))))
        {
            throw new KubeletException($"'{key}' in '{source}' is not a valid label key (an optional DNS subdomain prefix and '/', then at most 63 alphanumerics, '-', '_' or '.').",
                KubeletErrorKind.InvalidArgument, source);
        }
        if (prefix is not null && (prefix == "node-restriction.kubernetes.io" || prefix.EndsWith(".node-restriction.kubernetes.io", StringComparison.Ordinal)))
        {
            throw new KubeletException($"'{key}' in '{source}': the node-restriction.kubernetes.io prefix is reserved for administrators; the NodeRestriction admission plugin refuses it from a kubelet.",
                KubeletErrorKind.InvalidArgument, source);
        }
    }

    public static void ValidateValue(string value, string source)
    {
        if (value.Length > 63 || !QualifiedNamePart().IsMatch(value))
        {
            throw new KubeletException($"'{value}' in '{source}' is not a valid label value (at most 63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric).",
                KubeletErrorKind.InvalidArgument, source);
        }
    }

    /// <summary>Parses --node-labels syntax: key=value[,key=value].</summary>
    public static IReadOnlyDictionary<string, string> Parse(IEnumerable<string> items)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in items.SelectMany(i => i.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            var eq = item.IndexOf('=');
            if (eq <= 0) throw new KubeletException($"Label '{item}' must have the form key=value.", KubeletErrorKind.InvalidArgument, item);
            var key = item[..eq];
            var value = item[(eq + 1)..];
            ValidateKey(key, item);
            ValidateValue(value, item);
            labels[key] = value;
        }
        return labels;
    }
}
