using k8s.Models;

namespace KubeletPS.Core.Pods.Validation;

/// <summary>
/// The API server's checks of what the downward API and env read (validateEnv, validateEnvVarValueFrom,
/// validateObjectFieldSelector, validateContainerResourceFieldSelector, validateContainerResourceDivisor and
/// validateDownwardAPIVolumeFile in pkg/apis/core/validation), as Kubernetes 1.32 runs them: env names relaxed
/// (RelaxedEnvironmentVariableValidation is on), hugepages resources allowed (DownwardAPIHugePages is GA).
/// </summary>
internal static class EnvValidation
{
    private static readonly string[] EnvFieldPaths =
        ["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"];
    private static readonly string[] VolumeFieldPaths = ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"];
    private static readonly string[] ResourceFieldPaths = ["limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory"];
    private static readonly string[] HugePagesPrefixes = ["limits.hugepages-", "requests.hugepages-"];

    /// <summary>ConvertDownwardAPIFieldLabel's labels: what a v1 fieldRef may name at all (spec.host is the old name of spec.nodeName).</summary>
    private static readonly string[] KnownFieldLabels =
        ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.restartPolicy",
         "spec.serviceAccountName", "spec.schedulerName", "status.phase", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"];

    private static readonly HashSet<string> CpuDivisors = ["1m", "1"];
    private static readonly HashSet<string> ByteDivisors = ["1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"];
    private const string FileModeError = "must be a number between 0 and 0777 (octal), both inclusive";

    public static void ValidateEnv(IList<V1EnvVar>? env, string path, List<FieldError> errors)
    {
        foreach (var (variable, i) in (env ?? []).Select((v, i) => (v, i)))
        {
            var at = $"{path}[{i}]";
            if (string.IsNullOrEmpty(variable.Name)) errors.Add(FieldError.Required($"{at}.name"));
            else if (variable.Name.Any(c => c is < ' ' or > '~' or '='))
                errors.Add(FieldError.Invalid($"{at}.name", variable.Name, "a valid environment variable name must consist only of printable ASCII characters other than '='"));
            if (variable.ValueFrom is { } from) ValidateValueFrom(from, !string.IsNullOrEmpty(variable.Value), $"{at}.valueFrom", errors);
        }
    }

    private static void ValidateValueFrom(V1EnvVarSource from, bool hasValue, string path, List<FieldError> errors)
    {
        var sources = 0;
        if (from.FieldRef is { } field)
        {
            sources++;
            ValidateFieldSelector(field, EnvFieldPaths, $"{path}.fieldRef", $"{path}.fieldRef", errors);
        }
        if (from.ResourceFieldRef is { } resource)
        {
            sources++;
            ValidateResourceSelector(resource, volume: false, $"{path}.resourceFieldRef", $"{path}.resourceFieldRef", errors);
        }
        if (from.ConfigMapKeyRef is { } configMap)
        {
            sources++;
            ValidateKey(configMap.Key, $"{path}.configMapKeyRef.key", errors);
        }
        if (from.SecretKeyRef is { } secret)
        {
            sources++;
            ValidateKey(secret.Key, $"{path}.secretKeyRef.key", errors);
        }
        if (sources == 0) errors.Add(FieldError.Invalid(path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
        else if (hasValue) errors.Add(FieldError.Invalid(path, "", "may not be specified when `value` is not empty"));
        else if (sources > 1) errors.Add(FieldError.Invalid(path, "", "may not have more than one field specified at a time"));
    }

    /// <summary>
    /// validateDownwardAPIVolumeSource and the downwardAPI sources of a projected volume. The API server reports an
    /// item's errors at the source's path, without the item's index (<c>spec.volumes[0].downwardAPI.path</c>); each
    /// error's line is still the item's.
    /// </summary>
    public static void ValidateDownwardApiVolume(IList<V1DownwardAPIVolumeFile>? items, int? defaultMode, string path, List<FieldError> errors)
    {
        if (defaultMode is < 0 or > 511) errors.Add(FieldError.Invalid($"{path}.defaultMode", defaultMode.Value, FileModeError));
        foreach (var (item, i) in (items ?? []).Select((x, i) => (x, i)))
        {
            var at = $"{path}.items[{i}]";
            if (string.IsNullOrEmpty(item.Path)) errors.Add(FieldError.Required($"{path}.path") with { At = $"{at}" });
            else
            {
                var before = errors.Count;
                PodSpecValidation.LocalDescendingPath(item.Path, $"{path}.path", errors);
                if (item.Path.StartsWith("..", StringComparison.Ordinal) && !item.Path.StartsWith("../", StringComparison.Ordinal))
                    errors.Add(FieldError.Invalid($"{path}.path", item.Path, "must not start with '..'"));
                for (var e = before; e < errors.Count; e++) errors[e] = errors[e] with { At = $"{at}.path" };
            }
            if (item.FieldRef is { } field)
            {
                ValidateFieldSelector(field, VolumeFieldPaths, $"{path}.fieldRef", $"{at}.fieldRef", errors);
                if (item.ResourceFieldRef is not null)
                    errors.Add(FieldError.Invalid(path, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously", at: at));
            }
            else if (item.ResourceFieldRef is { } resource)
            {
                ValidateResourceSelector(resource, volume: true, $"{path}.resourceFieldRef", $"{at}.resourceFieldRef", errors);
            }
            else
            {
                errors.Add(FieldError.Required(path, "one of fieldRef and resourceFieldRef is required") with { At = at });
            }
            if (item.Mode is < 0 or > 511) errors.Add(FieldError.Invalid($"{path}.mode", item.Mode.Value, FileModeError, at: $"{at}.mode"));
        }
    }

    /// <summary>validateObjectFieldSelector, after ConvertDownwardAPIFieldLabel; an empty apiVersion is v1, as the API server defaults it.</summary>
    private static void ValidateFieldSelector(V1ObjectFieldSelector selector, string[] supported, string path, string at, List<FieldError> errors)
    {
        var version = string.IsNullOrEmpty(selector.ApiVersion) ? "v1" : selector.ApiVersion;
        var label = selector.FieldPath;
        if (string.IsNullOrEmpty(label))
        {
            errors.Add(FieldError.Required($"{path}.fieldPath") with { At = at });
            return;
        }
        var subscripted = SplitSubscript(label);
        string? conversion = version != "v1" ? $"unsupported pod version: {version}"
            : subscripted is { Path: var p } ? (p is "metadata.annotations" or "metadata.labels" ? null : $"field label does not support subscript: {label}")
            : KnownFieldLabels.Contains(label) || label == "spec.host" ? null
            : $"field label not supported: {label}";
        if (conversion is not null)
        {
            errors.Add(FieldError.Invalid($"{path}.fieldPath", label, $"error converting fieldPath: {conversion}", at: $"{at}.fieldPath"));
            return;
        }
        if (subscripted is { } s)
        {
            var key = s.Path == "metadata.annotations" ? s.Subscript.ToLowerInvariant() : s.Subscript;
            errors.AddRange(NameValidation.IsQualifiedName(key).Select(m => FieldError.Invalid(path, key, m, at: $"{at}.fieldPath")));
            return;
        }
        var converted = label == "spec.host" ? "spec.nodeName" : label;
        if (!supported.Contains(converted))
            errors.Add(FieldError.NotSupported($"{path}.fieldPath", converted, supported) with { At = $"{at}.fieldPath" });
    }

    /// <summary>fieldpath.SplitMaybeSubscriptedPath: <c>metadata.labels['app']</c> → (metadata.labels, app).</summary>
    private static (string Path, string Subscript)? SplitSubscript(string fieldPath)
    {
        if (!fieldPath.EndsWith("']", StringComparison.Ordinal)) return null;
        var open = fieldPath.IndexOf("['", StringComparison.Ordinal);
        if (open <= 0 || open + 2 > fieldPath.Length - 2) return null;
        return (fieldPath[..open], fieldPath[(open + 2)..^2]);
    }

    private static void ValidateResourceSelector(V1ResourceFieldSelector selector, bool volume, string path, string at, List<FieldError> errors)
    {
        var resource = selector.Resource ?? "";
        if (volume && string.IsNullOrEmpty(selector.ContainerName)) errors.Add(FieldError.Required($"{path}.containerName") with { At = at });
        else if (resource.Length == 0) errors.Add(FieldError.Required($"{path}.resource") with { At = at });
        else if (!ResourceFieldPaths.Contains(resource) && !HugePagesPrefixes.Any(p => resource.StartsWith(p, StringComparison.Ordinal)))
            errors.Add(FieldError.NotSupported($"{path}.resource", resource, ResourceFieldPaths) with { At = $"{at}.resource" });

        if (selector.Divisor is not { } divisor || Cm.QuantityValues.Decimal(divisor) == 0) return;
        var text = Cm.QuantityValues.Display(divisor);
        var kind = resource switch
        {
            "limits.cpu" or "requests.cpu" => "cpu",
            "limits.memory" or "requests.memory" => "memory",
            "limits.ephemeral-storage" or "requests.ephemeral-storage" => "local ephemeral storage",
            _ when HugePagesPrefixes.Any(p => resource.StartsWith(p, StringComparison.Ordinal)) => "hugepages",
            _ => null,
        };
        if (kind is null || (kind == "cpu" ? CpuDivisors : ByteDivisors).Contains(text)) return;
        var values = kind == "cpu" ? "1m and 1" : string.Join(", ", ByteDivisors);
        errors.Add(FieldError.Invalid($"{path}.divisor", resource, $"only divisor's values {values} are supported with the {kind} resource", at: $"{at}.divisor"));
    }

    /// <summary>IsConfigMapKey, for the key an env var reads from a ConfigMap or Secret.</summary>
    private static void ValidateKey(string? key, string path, List<FieldError> errors)
    {
        if (string.IsNullOrEmpty(key))
        {
            errors.Add(FieldError.Required(path));
            return;
        }
        if (key.Length > 253) errors.Add(FieldError.Invalid(path, key, "must be no more than 253 characters"));
        if (!key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            errors.Add(FieldError.Invalid(path, key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
        if (key is "." or "..") errors.Add(FieldError.Invalid(path, key, $"must not be '{key}'"));
        else if (key.StartsWith("..", StringComparison.Ordinal)) errors.Add(FieldError.Invalid(path, key, "must not start with '..'"));
    }
}
