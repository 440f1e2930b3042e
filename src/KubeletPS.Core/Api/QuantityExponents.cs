using System.Globalization;
using k8s.Models;

namespace KubeletPS.Core.Api;

/// <summary>Quantity exponents KubernetesClient cannot parse in reasonable time, brought to ±1000 in JSON before it reads them.</summary>
public static class QuantityExponents
{
    /// <summary>
    /// In JSON about to be read as <paramref name="type"/> (a manifest, an API response): each quantity whose exponent passes ±1000 gets
    /// ±1000, with its mantissa and sign kept. KubernetesClient's parse builds 10^exponent (<c>1e99999999</c> ran for
    /// minutes), and either value is capped alike afterwards (at ±(2^63-1), or to the smallest quantity). Only the
    /// places where the type holds a quantity are rewritten; the same text in an env value or an annotation is kept.
    /// </summary>
    public static void Clamp(System.Text.Json.Nodes.JsonNode? node, Type type)
    {
        if (node is not System.Text.Json.Nodes.JsonObject json || !IsModel(type)) return;
        foreach (var (name, propertyType) in JsonProperties.GetOrAdd(type, PropertiesByJsonName))
        {
            if (json[name] is not { } child) continue;
            if (propertyType == typeof(ResourceQuantity))
            {
                if (ClampedText(child) is { } text) json[name] = text;
            }
            else if (typeof(IDictionary<string, ResourceQuantity>).IsAssignableFrom(propertyType))
            {
                if (child is not System.Text.Json.Nodes.JsonObject map) continue;
                foreach (var key in map.Select(p => p.Key).ToList())
                {
                    if (map[key] is { } value && ClampedText(value) is { } text) map[key] = text;
                }
            }
            else if (IsModel(propertyType))
            {
                Clamp(child, propertyType);
            }
            else if (propertyType.IsGenericType && propertyType.GetGenericArguments() is [var item] && IsModel(item) && child is System.Text.Json.Nodes.JsonArray items)
            {
                foreach (var element in items) Clamp(element, item);
            }
        }
    }

    private const int ExponentBound = 1000;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, (string Name, Type Type)[]> JsonProperties = new();

    private static (string Name, Type Type)[] PropertiesByJsonName(Type type) =>
        type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && Walked(p.PropertyType))
            .Select(p => (System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Text.Json.Serialization.JsonPropertyNameAttribute>(p)?.Name
                ?? System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(p.Name), p.PropertyType))
            .ToArray();

    /// <summary>
    /// The quantity text with its exponent brought to ±1000, and a negative one written with an exponent as the same
    /// number in plain decimals (KubernetesClient's ToString of <c>-1e3</c> never returns; <c>-1000</c> it prints);
    /// null when it needs no change or is not a quantity with an exponent.
    /// </summary>
    private static string? ClampedText(System.Text.Json.Nodes.JsonNode value) =>
        value is System.Text.Json.Nodes.JsonValue scalar && scalar.TryGetValue<string>(out var text) ? ClampedText(text) : null;

    /// <summary>
    /// A quantity from text someone wrote (a configuration file's <c>systemReserved</c>, <c>evictionHard</c>,
    /// <c>containerLogMaxSize</c>), read with its exponent clamped as in <see cref="Clamp"/> so that the parse returns.
    /// </summary>
    /// <exception cref="FormatException">The text is not a quantity.</exception>
    public static ResourceQuantity Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new ResourceQuantity(ClampedText(text) ?? text);
    }

    private static string? ClampedText(string text)
    {
        var clamped = ExponentClamped(text);
        var current = clamped ?? text;
        // More digits than a decimal holds (29 nines): KubernetesClient's ToString of it throws OverflowException.
        if (LongestDigitRun(current) < MaxSafeDigits) return clamped;
        try
        {
            var value = new ResourceQuantity(current).ToDouble();
            if (Math.Abs(value) > long.MaxValue) return value < 0 ? "-9223372036854775807" : "9223372036854775807";
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
        }
        return clamped;
    }

    /// <summary>A run of this many digits can pass long's range, so the quantity is read to see.</summary>
    internal const int MaxSafeDigits = 19;

    internal static int LongestDigitRun(ReadOnlySpan<char> text)
    {
        int longest = 0, run = 0;
        foreach (var c in text)
        {
            run = char.IsAsciiDigit(c) ? run + 1 : 0;
            longest = Math.Max(longest, run);
        }
        return longest;
    }

    private static string? ExponentClamped(string text)
    {
        var e = text.AsSpan().IndexOfAny('e', 'E');
        if (e <= 0 || e == text.Length - 1) return null;
        var exponent = text.AsSpan(e + 1);
        var sign = exponent[0] is '+' or '-' ? exponent[..1].ToString() : "";
        var allDigits = exponent[sign.Length..];
        if (allDigits.Length == 0 || !System.Linq.Enumerable.All(allDigits.ToString(), char.IsAsciiDigit)) return null;
        var digits = allDigits.TrimStart('0');
        var clamped = digits.Length > 4 || digits.Length > 0 && int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture) > ExponentBound;
        var result = clamped ? string.Create(CultureInfo.InvariantCulture, $"{text[..e]}e{(sign == "-" ? "-" : "")}{ExponentBound}") : text;
        if (!text.StartsWith('-')) return clamped ? result : null;
        try
        {
            var number = decimal.Parse(result, NumberStyles.Float, CultureInfo.InvariantCulture);
            return number == 0 ? "-1n" : number.ToString(CultureInfo.InvariantCulture);
        }
        catch (OverflowException)
        {
            return "-9223372036854775807";
        }
        catch (FormatException)
        {
            return clamped ? result : null;
        }
    }

    internal static bool Walked(Type type) =>
        type == typeof(ResourceQuantity)
        || typeof(IDictionary<string, ResourceQuantity>).IsAssignableFrom(type)
        || IsModel(type)
        || type.IsGenericType && type.GetGenericArguments() is [var item] && typeof(IEnumerable<>).MakeGenericType(item).IsAssignableFrom(type) && IsModel(item);

    internal static bool IsModel(Type type) => type.IsClass && type.Namespace == typeof(V1Pod).Namespace && type != typeof(ResourceQuantity);
}
