using System.Text;
using k8s.Models;

namespace KubeletPS.Core.Pods.Validation;

/// <summary>
/// apimachinery's ValidateObjectMeta for a namespaced object named by a DNS-1123 subdomain (a pod),
/// with ValidateLabels and ValidateAnnotations (TotalAnnotationSizeLimitB: 256 KiB of keys and values).
/// </summary>
public static class ObjectMetaValidation
{
    public const int TotalAnnotationSizeLimitB = 256 * 1024;

    public static List<FieldError> Validate(V1ObjectMeta? meta, string path = "metadata")
    {
        var errors = new List<FieldError>();
        meta ??= new V1ObjectMeta();
        if (string.IsNullOrEmpty(meta.Name)) errors.Add(FieldError.Required($"{path}.name", "name or generateName is required"));
        else errors.AddRange(NameValidation.IsDns1123Subdomain(meta.Name).Select(m => FieldError.Invalid($"{path}.name", meta.Name, m)));
        if (string.IsNullOrEmpty(meta.NamespaceProperty)) errors.Add(FieldError.Required($"{path}.namespace"));
        else errors.AddRange(NameValidation.IsDns1123Label(meta.NamespaceProperty).Select(m => FieldError.Invalid($"{path}.namespace", meta.NamespaceProperty, m)));
        errors.AddRange(ValidateLabels(meta.Labels, $"{path}.labels"));
        errors.AddRange(ValidateAnnotations(meta.Annotations, $"{path}.annotations"));
        return errors;
    }

    public static IEnumerable<FieldError> ValidateLabels(IDictionary<string, string>? labels, string path)
    {
        foreach (var (key, value) in (labels ?? new Dictionary<string, string>()).OrderBy(l => l.Key, StringComparer.Ordinal))
        {
            foreach (var message in NameValidation.IsQualifiedName(key)) yield return FieldError.Invalid(path, key, message, $"{path}[{key}]");
            foreach (var message in NameValidation.IsValidLabelValue(value ?? "")) yield return FieldError.Invalid(path, value, message, $"{path}[{key}]");
        }
    }

    public static IEnumerable<FieldError> ValidateAnnotations(IDictionary<string, string>? annotations, string path)
    {
        long total = 0;
        string? largest = null;
        foreach (var (key, value) in (annotations ?? new Dictionary<string, string>()).OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            foreach (var message in NameValidation.IsQualifiedName(key.ToLowerInvariant())) yield return FieldError.Invalid(path, key, message, $"{path}[{key}]");
            // Go's len: bytes, not characters.
            var size = Encoding.UTF8.GetByteCount(key) + Encoding.UTF8.GetByteCount(value ?? "");
            if (largest is null || size > Encoding.UTF8.GetByteCount(largest) + Encoding.UTF8.GetByteCount(annotations![largest] ?? "")) largest = key;
            total += size;
        }
        if (total > TotalAnnotationSizeLimitB)
        {
            // The line reported is the largest annotation's: where the size most likely comes from.
            yield return FieldError.TooLong(path, TotalAnnotationSizeLimitB) with { At = $"{path}[{largest}]" };
        }
    }
}
