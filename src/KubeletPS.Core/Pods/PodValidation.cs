using k8s.Models;

namespace KubeletPS.Core.Pods;

/// <summary>
/// Checks a pod for what this agent cannot run faithfully, so that it is refused with a reason
/// instead of being run differently from what the spec says.
/// </summary>
public static class PodValidation
{
    private static readonly string[] SupportedVolumes = ["emptyDir", "hostPath", "configMap", "secret", "downwardAPI", "projected"];

    public static void Validate(V1Pod pod, string source)
    {
        var spec = pod.Spec;
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (container, field) in (spec.InitContainers ?? []).Select((c, i) => (c, $"spec.initContainers[{i}]"))
                     .Concat((spec.Containers ?? []).Select((c, i) => (c, $"spec.containers[{i}]"))))
        {
            if (string.IsNullOrEmpty(container.Name))
                throw new KubeletConfigException($"{field}.name is required.", source, field: $"{field}.name");
            if (!names.Add(container.Name))
                throw new KubeletConfigException($"{field}.name: container name \"{container.Name}\" is used twice.", source, field: $"{field}.name");
            if (string.IsNullOrEmpty(container.Image))
                throw new KubeletConfigException($"{field}.image is required.", source, field: $"{field}.image");
            if (container.ImagePullPolicy is not (null or "Always" or "IfNotPresent" or "Never"))
                throw new KubeletConfigException($"{field}.imagePullPolicy: \"{container.ImagePullPolicy}\" is not Always, IfNotPresent or Never.", source, field: $"{field}.imagePullPolicy");
            foreach (var mount in container.VolumeMounts ?? [])
            {
                if (spec.Volumes?.Any(v => v.Name == mount.Name) != true)
                    throw new KubeletConfigException($"{field}.volumeMounts: volume \"{mount.Name}\" is not defined in spec.volumes.", source, field: $"{field}.volumeMounts");
            }
        }
        if (spec.RestartPolicy is not (null or "Always" or "OnFailure" or "Never"))
            throw new KubeletConfigException($"spec.restartPolicy: \"{spec.RestartPolicy}\" is not Always, OnFailure or Never.", source, field: "spec.restartPolicy");
        if (spec.EphemeralContainers is { Count: > 0 })
            throw new KubeletConfigException("spec.ephemeralContainers are not supported by this agent.", source, field: "spec.ephemeralContainers");
        foreach (var (volume, i) in (spec.Volumes ?? []).Select((v, i) => (v, i)))
        {
            var kind = VolumeKind(volume);
            if (kind is null || !SupportedVolumes.Contains(kind))
                throw new KubeletConfigException($"spec.volumes[{i}] \"{volume.Name}\": volume type {kind ?? "(none)"} is not supported (supported: {string.Join(", ", SupportedVolumes)}).",
                    source, field: $"spec.volumes[{i}]");
        }
    }

    public static string? VolumeKind(V1Volume volume)
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(k8s.KubernetesJson.Serialize(volume))!.AsObject();
        return json.Select(p => p.Key).FirstOrDefault(k => k != "name");
    }
}
