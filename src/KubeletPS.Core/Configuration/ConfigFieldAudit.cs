using System.Collections;
using System.Globalization;
using System.Reflection;
using KubeletPS.Core.Configuration.Yaml;
using YamlDotNet.RepresentationModel;

namespace KubeletPS.Core.Configuration;

/// <summary>
/// Finds the fields a configuration document sets itself (a default is never "set", nor is a field
/// written as null) and reports those a support table says are not in effect, with the line and
/// column of their key and their value as the file sets it (never a secret's). It runs on the
/// model as read, before kubelet's defaults fill in the zero values.
/// </summary>
internal static class ConfigFieldAudit
{
    private const int MaxValueLength = 120;

    /// <param name="reasonOf">The reason a field (by leaf path) is not in effect; null when it is.</param>
    internal static IReadOnlyList<ConfigFieldNotInEffect> NotInEffect(string file, YamlMappingNode document, object model, Func<string, string?> reasonOf)
    {
        var result = new List<ConfigFieldNotInEffect>();
        Walk(file, document, model, "", reasonOf, result);
        return result;
    }

    private static void Walk(string file, YamlMappingNode node, object? target, string prefix, Func<string, string?> reasonOf, List<ConfigFieldNotInEffect> result)
    {
        if (target is null) return;
        var fields = YamlObjectReader.FieldsOf(target.GetType());
        foreach (var (keyNode, valueNode) in node.Children)
        {
            // Keys the reader refused or warned about (not a name, unknown) are its business.
            if (keyNode is not YamlScalarNode { Value: { } key } || !fields.TryGetValue(key, out var field)) continue;
            if (YamlObjectReader.IsNull(valueNode)) continue;
            var path = prefix.Length == 0 ? key : $"{prefix}.{key}";
            var value = field.Property.GetValue(target);
            // A plain Go field cannot tell a zero value from an absent one: kubeadm's "syncFrequency: 0s" is the default.
            if (IsPlain(field.Property) && IsZero(value)) continue;
            if (KubeletConfigurationSupport.IsFieldObject(field.Property.PropertyType) && valueNode is YamlMappingNode mapping)
            {
                Walk(file, mapping, value, path, reasonOf, result);
                continue;
            }
            if (reasonOf(path) is not { } reason) continue;
            result.Add(new ConfigFieldNotInEffect(file, path, (int)keyNode.Start.Line, (int)keyNode.Start.Column,
                field.Field.Secret ? null : Shorten(Format(value)), reason));
        }
    }

    /// <summary>A value field (Go's non-pointer string, bool, number, duration), as opposed to an optional (pointer, slice, map) one.</summary>
    private static bool IsPlain(PropertyInfo property)
    {
        var type = property.PropertyType;
        if (type.IsValueType) return Nullable.GetUnderlyingType(type) is null;
        return type == typeof(string) && Nullability.Create(property).ReadState == NullabilityState.NotNull;
    }

    private static bool IsZero(object? value) => value switch
    {
        null => true,
        string s => s.Length == 0,
        _ => value.GetType().IsValueType && value.Equals(Activator.CreateInstance(value.GetType())),
    };

    private static readonly NullabilityInfoContext Nullability = new();

    /// <summary>A value as a short line: scalars as YAML writes them, lists as [a, b], maps as {k: v}.</summary>
    internal static string Format(object? value) => value switch
    {
        null => "null",
        string s => s,
        bool b => b ? "true" : "false",
        TimeSpan duration => GoDuration.Format(duration),
        IFormattable number => number.ToString(null, CultureInfo.InvariantCulture),
        IDictionary map => "{" + string.Join(", ", Entries(map).Select(e => $"{e.Key}: {Format(e.Value)}")) + "}",
        IEnumerable list => "[" + string.Join(", ", list.Cast<object?>().Select(Format)) + "]",
        _ => "{" + string.Join(", ", YamlObjectReader.FieldsOf(value.GetType())
            .Where(f => !f.Value.Field.Secret)
            .Select(f => $"{f.Key}: {Format(f.Value.Property.GetValue(value))}")) + "}",
    };

    private static IEnumerable<DictionaryEntry> Entries(IDictionary map)
    {
        foreach (DictionaryEntry entry in map) yield return entry;
    }

    private static string Shorten(string text) => text.Length <= MaxValueLength ? text : text[..(MaxValueLength - 1)] + "…";
}
