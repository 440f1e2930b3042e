using System.Collections;
using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KubeletPS.Core.Configuration.Yaml;

/// <summary>
/// Maps a YAML document onto the [ConfigField] model classes the way Kubernetes' decoder
/// does (YAML → JSON → Go struct, case-sensitive keys), but from YamlDotNet's representation
/// model so every problem keeps its line and column: parse errors and type errors throw
/// <see cref="KubeletConfigException"/>, a duplicate key is a YAML error, unknown fields become warnings (the
/// kubelet falls back to lenient decoding and only logs them).
/// </summary>
internal sealed class YamlObjectReader
{
    private static readonly ConcurrentDictionary<Type, IReadOnlyDictionary<string, (PropertyInfo Property, ConfigFieldAttribute Field)>> FieldCache = new();

    private readonly string _file;
    private readonly List<ConfigWarning> _warnings = [];
    private readonly Dictionary<string, Mark> _marks = new(StringComparer.Ordinal);

    internal YamlObjectReader(string file) => _file = file;

    internal IReadOnlyList<ConfigWarning> Warnings => _warnings;

    /// <summary>Where each field that the document set starts, by its path ("clusters[0].cluster.server").</summary>
    internal IReadOnlyDictionary<string, Mark> Marks => _marks;

    /// <summary>Parses the single document of a file; an empty file gives an empty mapping.</summary>
    internal static YamlMappingNode LoadMapping(string file, string text)
    {
        YamlStream stream;
        try
        {
            stream = BoundedYaml.Load(text, file, YamlBounds.ConfigFile);
        }
        catch (YamlException e)
        {
            // YamlDotNet's message repeats its own "(Line: …)" position; ours goes in front.
            var reason = (e.InnerException as YamlException)?.Message ?? e.Message;
            var mark = e.InnerException is YamlException inner && inner.Start.Line > 0 ? inner.Start : e.Start;
            throw new KubeletConfigException($"the file is not valid YAML: {StripPosition(reason)}", file,
                (int)mark.Line, (int)mark.Column, inner: e);
        }
        if (stream.Documents.Count == 0) return new YamlMappingNode();
        if (stream.Documents.Count > 1)
        {
            var second = stream.Documents[1].RootNode.Start;
            throw new KubeletConfigException("the file holds more than one YAML document; expected exactly one.", file,
                (int)second.Line, (int)second.Column);
        }
        var root = stream.Documents[0].RootNode;
        if (IsNull(root)) return new YamlMappingNode();
        return root as YamlMappingNode ?? throw new KubeletConfigException(
            $"expected a mapping of fields at the top of the file, found {Describe(root)}.", file, (int)root.Start.Line, (int)root.Start.Column);
    }

    internal T Read<T>(YamlMappingNode node, string prefix = "") where T : new()
    {
        var target = new T();
        Fill(target, node, prefix);
        return target;
    }

    internal KubeletConfigException Error(string message, YamlNode node, string field) =>
        new(message, _file, (int)node.Start.Line, (int)node.Start.Column, field);

    internal KubeletConfigException Error(string message, string field)
    {
        return _marks.TryGetValue(field, out var mark)
            ? new KubeletConfigException(message, _file, (int)mark.Line, (int)mark.Column, field)
            : new KubeletConfigException(message, _file, field: field);
    }

    private void Fill(object target, YamlMappingNode node, string prefix)
    {
        var fields = FieldsOf(target.GetType());
        foreach (var (keyNode, valueNode) in node.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key })
            {
                throw Error($"expected a field name, found {Describe(keyNode)}.", keyNode, prefix);
            }
            var path = prefix.Length == 0 ? key : $"{prefix}.{key}";
            if (!fields.TryGetValue(key, out var field))
            {
                var near = fields.Keys.FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase));
                var hint = near is null ? "" : $" (did you mean \"{near}\"?)";
                _warnings.Add(Warning(keyNode, path, $"unknown field \"{path}\"{hint}; it is ignored.", isUnknown: true));
                continue;
            }
            _marks[path] = keyNode.Start;
            if (IsNull(valueNode)) continue; // JSON null: a pointer stays nil, a value keeps its zero
            var value = ReadValue(field.Property.PropertyType, valueNode, path, field.Field, field.Property.GetValue(target));
            field.Property.SetValue(target, value);
        }
    }

    private object? ReadValue(Type type, YamlNode node, string path, ConfigFieldAttribute field, object? existing = null)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (underlying == typeof(string)) return Scalar(node, path, "a string", field).Value ?? "";
        if (underlying == typeof(bool))
        {
            var text = Scalar(node, path, "a boolean", field);
            return text.Style == ScalarStyle.Plain && text.Value?.ToLowerInvariant() is { } v
                ? v switch
                {
                    "true" or "yes" or "on" or "y" => true,
                    "false" or "no" or "off" or "n" => false,
                    _ => throw NotA(text, path, "a boolean (true or false)", field),
                }
                : throw NotA(text, path, "a boolean (true or false)", field);
        }
        if (underlying == typeof(int) || underlying == typeof(long))
        {
            var text = Scalar(node, path, "an integer", field);
            if (text.Style != ScalarStyle.Plain || !long.TryParse(text.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
            {
                throw NotA(text, path, "an integer", field);
            }
            if (underlying == typeof(int))
            {
                if (number is < int.MinValue or > int.MaxValue) throw NotA(text, path, "a 32-bit integer", field);
                return (int)number;
            }
            return number;
        }
        if (underlying == typeof(double))
        {
            var text = Scalar(node, path, "a number", field);
            return text.Style == ScalarStyle.Plain && double.TryParse(text.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
                ? d : throw NotA(text, path, "a number", field);
        }
        if (underlying == typeof(TimeSpan))
        {
            var text = Scalar(node, path, "a duration", field);
            if (field.AcceptsNanoseconds && text.Style == ScalarStyle.Plain && long.TryParse(text.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var ns))
            {
                return TimeSpan.FromTicks(ns / 100);
            }
            return GoDuration.TryParse(text.Value, out var duration)
                ? duration : throw NotA(text, path, "a duration (Go format, e.g. 1m0s, 10s, 300ms)", field);
        }
        if (underlying == typeof(byte[]))
        {
            var text = Scalar(node, path, "base64 data", field);
            try { return Convert.FromBase64String(text.Value ?? ""); }
            catch (FormatException) { throw NotA(text, path, "base64 data", field); }
        }
        if (underlying == typeof(object)) return ToPlain(node);
        if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(List<>))
        {
            if (node is not YamlSequenceNode sequence) throw Error($"{path}: expected a list, found {Describe(node)}.", node, path);
            var itemType = underlying.GetGenericArguments()[0];
            var list = (IList)Activator.CreateInstance(underlying)!;
            var i = 0;
            foreach (var item in sequence.Children)
            {
                var itemPath = $"{path}[{i++}]";
                list.Add(IsNull(item) ? Default(itemType) : ReadValue(itemType, item, itemPath, field));
            }
            return list;
        }
        if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            if (node is not YamlMappingNode mapping) throw Error($"{path}: expected a mapping, found {Describe(node)}.", node, path);
            var valueType = underlying.GetGenericArguments()[1];
            var map = (IDictionary)Activator.CreateInstance(underlying, StringComparer.Ordinal)!;
            foreach (var (keyNode, valueNode) in mapping.Children)
            {
                var key = Scalar(keyNode, path, "a key", field).Value ?? "";
                var entryPath = $"{path}.{key}";
                _marks[entryPath] = keyNode.Start;
                map[key] = IsNull(valueNode) ? Default(valueType) : ReadValue(valueType, valueNode, entryPath, field);
            }
            return map;
        }
        if (underlying.IsClass)
        {
            if (node is not YamlMappingNode mapping) throw Error($"{path}: expected a mapping, found {Describe(node)}.", node, path);
            // A struct-valued field merges into the object already there, as Go's decoder does.
            var target = existing ?? Activator.CreateInstance(underlying)!;
            Fill(target, mapping, path);
            return target;
        }
        throw new InvalidOperationException($"The configuration model uses an unsupported type {underlying} for {path}.");
    }

    private static object? Default(Type type) =>
        type == typeof(string) ? "" : type.IsValueType ? Activator.CreateInstance(type) : null;

    private YamlScalarNode Scalar(YamlNode node, string path, string expected, ConfigFieldAttribute field) =>
        node as YamlScalarNode ?? throw Error($"{path}: expected {expected}, found {Describe(node)}.", node, path);

    private KubeletConfigException NotA(YamlScalarNode node, string path, string expected, ConfigFieldAttribute field) =>
        field.Secret
            ? Error($"{path}: the value is not {expected}.", node, path)
            : Error($"{path}: '{node.Value}' is not {expected}.", node, path);

    private ConfigWarning Warning(YamlNode node, string path, string message, bool isUnknown) =>
        new(_file, (int)node.Start.Line, (int)node.Start.Column, path, message, isUnknown);

    internal static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    private static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode s when IsNull(s) => "null",
        YamlScalarNode => "a single value",
        _ => node.NodeType.ToString(),
    };

    /// <summary>An untyped value (exec, extensions) as plain .NET objects.</summary>
    private static object? ToPlain(YamlNode node) => node switch
    {
        YamlScalarNode s => IsNull(s) ? null : s.Value,
        YamlSequenceNode seq => seq.Children.Select(ToPlain).ToList(),
        YamlMappingNode map => map.Children.ToDictionary(p => ((YamlScalarNode)p.Key).Value ?? "", p => ToPlain(p.Value), StringComparer.Ordinal),
        _ => null,
    };

    private static string StripPosition(string message)
    {
        // "(Line: 3, Col: 5, Idx: 20) - (Line: 3, Col: 6, Idx: 21): While scanning …" → "While scanning …"
        var marker = message.LastIndexOf("): ", StringComparison.Ordinal);
        return message.StartsWith("(Line:", StringComparison.Ordinal) && marker >= 0 ? message[(marker + 3)..] : message;
    }

    internal static IReadOnlyDictionary<string, (PropertyInfo Property, ConfigFieldAttribute Field)> FieldsOf(Type type) =>
        FieldCache.GetOrAdd(type, t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => (Property: p, Field: p.GetCustomAttribute<ConfigFieldAttribute>()))
            .Where(p => p.Field is not null)
            .ToDictionary(p => p.Field!.Name, p => (p.Property, p.Field!), StringComparer.Ordinal));
}
