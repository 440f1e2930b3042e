using System.Collections;
using System.Collections.Specialized;
using System.Reflection;
using KubeletPS.Core.Configuration.Clientcmd;

namespace KubeletPS.Core.Configuration;

/// <summary>
/// A configuration model as an ordered tree keyed by YAML field names, as kubelet's /configz
/// shows it: durations in Go form ("1m0s"), quantities as written, nested objects as nested
/// dictionaries, every field present (null where an optional field is unset).
/// </summary>
public static class ConfigSettings
{
    public static OrderedDictionary ToDictionary(object model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var result = new OrderedDictionary(StringComparer.Ordinal);
        foreach (var property in model.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var field = property.GetCustomAttribute<ConfigFieldAttribute>();
            if (field is null || field.Secret) continue;
            result[field.Name] = ToValue(property.GetValue(model));
        }
        return result;
    }

    private static object? ToValue(object? value) => value switch
    {
        null => null,
        string or bool or int or long or double => value,
        TimeSpan duration => GoDuration.Format(duration),
        byte[] => Kubeconfig.Embedded,
        IDictionary map => ToOrdered(map),
        List<string> strings => strings.ToArray(),
        List<int> numbers => numbers.ToArray(),
        IList list => list.Cast<object?>().Select(ToValue).ToArray(),
        _ when value.GetType().IsClass => ToDictionary(value),
        _ => value,
    };

    private static OrderedDictionary ToOrdered(IDictionary map)
    {
        var result = new OrderedDictionary(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in map) result[entry.Key] = ToValue(entry.Value);
        return result;
    }
}
