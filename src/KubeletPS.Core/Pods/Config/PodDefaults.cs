using k8s.Models;

namespace KubeletPS.Core.Pods.Config;

/// <summary>
/// The API server's defaulting for pods (pkg/apis/core/v1/defaults.go), applied to static pods,
/// which never pass through the API server before the kubelet runs them.
/// </summary>
public static class PodDefaults
{
    public static void Apply(V1Pod pod)
    {
        var spec = pod.Spec;
        spec.RestartPolicy ??= "Always";
        spec.TerminationGracePeriodSeconds ??= 30;
        spec.DnsPolicy ??= "ClusterFirst";
        spec.SchedulerName ??= "default-scheduler";
        spec.EnableServiceLinks ??= true;
        spec.SecurityContext ??= new V1PodSecurityContext();
        foreach (var container in (spec.InitContainers ?? []).Concat(spec.Containers ?? []))
        {
            container.ImagePullPolicy ??= DefaultPullPolicy(container.Image);
            container.TerminationMessagePath ??= "/dev/termination-log";
            container.TerminationMessagePolicy ??= "File";
            foreach (var port in container.Ports ?? []) port.Protocol ??= "TCP";
            foreach (var probe in new[] { container.LivenessProbe, container.ReadinessProbe, container.StartupProbe })
            {
                if (probe is null) continue;
                // Go's int32 fields: 0 is unset, and defaulted like a missing field.
                if (probe.TimeoutSeconds is null or 0) probe.TimeoutSeconds = 1;
                if (probe.PeriodSeconds is null or 0) probe.PeriodSeconds = 10;
                if (probe.SuccessThreshold is null or 0) probe.SuccessThreshold = 1;
                if (probe.FailureThreshold is null or 0) probe.FailureThreshold = 3;
                if (probe.HttpGet is { } http) http.Scheme ??= "HTTP";
            }
        }
        foreach (var volume in spec.Volumes ?? [])
        {
            if (volume.HostPath is { } hostPath) hostPath.Type ??= "";
            if (volume.Secret is { } secret) secret.DefaultMode ??= 420;
            if (volume.ConfigMap is { } configMap) configMap.DefaultMode ??= 420;
        }
    }

    /// <summary>Always for :latest or an untagged image, else IfNotPresent.</summary>
    public static string DefaultPullPolicy(string? image)
    {
        if (string.IsNullOrEmpty(image)) return "IfNotPresent";
        if (image.Contains('@')) return "IfNotPresent";
        var lastSlash = image.LastIndexOf('/');
        var colon = image.IndexOf(':', lastSlash + 1);
        return colon < 0 || image[(colon + 1)..] == "latest" ? "Always" : "IfNotPresent";
    }
}
