using k8s.Models;

namespace KubeletPS.Core.Pods.Validation;

/// <summary>
/// Checks a static pod before anything runs: first as the API server validates a pod on create
/// (<see cref="ObjectMetaValidation"/>, <see cref="PodSpecValidation"/>), then for what this agent cannot
/// run faithfully, so that it is refused with a reason instead of being run differently from what the spec says.
/// </summary>
public static class PodValidation
{
    private static readonly string[] SupportedVolumes = ["emptyDir", "hostPath", "configMap", "secret", "downwardAPI", "projected"];

    /// <summary>
    /// Validates a defaulted pod read from <paramref name="source"/>; <paramref name="locate"/> gives the line
    /// of a field path in the file. Every error is in the exception's message (kubelet's "invalid pod: …"),
    /// the first one's field and line in its <see cref="KubeletConfigException.Field"/> and Line.
    /// </summary>
    public static void Validate(V1Pod pod, string source, Func<string, (int Line, int Column)?>? locate = null)
    {
        var errors = ObjectMetaValidation.Validate(pod.Metadata);
        errors.AddRange(PodSpecValidation.Validate(pod.Spec));
        errors.AddRange(Unsupported(pod.Spec));
        if (errors.Count == 0) return;

        var located = errors.Select(e => (Error: e, Where: locate?.Invoke(e.Location))).ToList();
        var first = located[0];
        var message = "invalid pod: " + string.Join("; ", located.Select((e, i) =>
            i > 0 && e.Where is { } w ? $"{e.Error} (line {w.Line})" : e.Error.ToString()));
        throw new KubeletConfigException(message, source, first.Where?.Line, first.Where?.Column, first.Error.Field);
    }

    /// <summary>What the API accepts but this agent does not run.</summary>
    private static IEnumerable<FieldError> Unsupported(V1PodSpec spec)
    {
        if (spec.EphemeralContainers is { Count: > 0 })
            yield return FieldError.Forbidden("spec.ephemeralContainers", "ephemeral containers are not supported by this agent");
        foreach (var (volume, i) in (spec.Volumes ?? []).Select((v, i) => (v, i)))
        {
            var kind = VolumeKind(volume);
            if (kind is not null && !SupportedVolumes.Contains(kind))
                yield return FieldError.Forbidden($"spec.volumes[{i}].{kind}", $"volume \"{volume.Name}\": volume type {kind} is not supported (supported: {string.Join(", ", SupportedVolumes)})");
        }
        foreach (var (container, field) in (spec.InitContainers ?? []).Select((c, i) => (c, $"spec.initContainers[{i}]"))
                     .Concat((spec.Containers ?? []).Select((c, i) => (c, $"spec.containers[{i}]"))))
        {
            foreach (var (mount, m) in (container.VolumeMounts ?? []).Select((x, m) => (x, m)))
            {
                // The API leaves this to the runtime; refused here with the field rather than as a runtime error later.
                if (!string.IsNullOrEmpty(mount.MountPath) && !mount.MountPath.StartsWith('/'))
                    yield return FieldError.Invalid($"{field}.volumeMounts[{m}].mountPath", mount.MountPath, "must be an absolute path");
            }
        }
    }

    public static string? VolumeKind(V1Volume volume) => PodSpecValidation.VolumeSources(volume).FirstOrDefault();
}
