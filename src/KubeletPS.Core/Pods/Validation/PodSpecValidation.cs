using System.Globalization;
using System.Net;
using k8s.Models;

namespace KubeletPS.Core.Pods.Validation;

/// <summary>
/// The API server's ValidatePodSpec (pkg/apis/core/validation/validation.go) for what a static pod can
/// hold: volumes, containers (names, images, ports, host port clashes, resources, probes, lifecycle
/// handlers, mounts, security context), restartPolicy, dnsPolicy and dnsConfig, grace periods and the
/// pod's security context. Run on the defaulted pod, as the API server validates after defaulting.
/// </summary>
public static class PodSpecValidation
{
    private static readonly string[] RestartPolicies = ["Always", "OnFailure", "Never"];
    private static readonly string[] DnsPolicies = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
    private static readonly string[] PullPolicies = ["Always", "IfNotPresent", "Never"];
    private static readonly string[] Protocols = ["SCTP", "TCP", "UDP"];
    private const int MaxDnsNameservers = 3;
    private const int MaxDnsSearchPaths = 32;

    public static List<FieldError> Validate(V1PodSpec spec, string path = "spec")
    {
        var errors = new List<FieldError>();
        var volumes = ValidateVolumes(spec.Volumes, $"{path}.volumes", errors);
        var names = new HashSet<string>(StringComparer.Ordinal);
        ValidateContainers(spec.InitContainers, $"{path}.initContainers", volumes, names, spec, errors);
        if (spec.Containers is not { Count: > 0 }) errors.Add(FieldError.Required($"{path}.containers"));
        ValidateContainers(spec.Containers, $"{path}.containers", volumes, names, spec, errors);
        CheckHostPortConflicts(spec.Containers, $"{path}.containers", errors);

        if (string.IsNullOrEmpty(spec.RestartPolicy)) errors.Add(FieldError.Required($"{path}.restartPolicy"));
        else if (!RestartPolicies.Contains(spec.RestartPolicy)) errors.Add(FieldError.NotSupported($"{path}.restartPolicy", spec.RestartPolicy, RestartPolicies));
        ValidateDns(spec, path, errors);
        if (spec.TerminationGracePeriodSeconds is < 0)
            errors.Add(FieldError.Invalid($"{path}.terminationGracePeriodSeconds", spec.TerminationGracePeriodSeconds.Value, "must be greater than or equal to 0"));
        if (spec.ActiveDeadlineSeconds is { } deadline && deadline is < 1 or > int.MaxValue)
            errors.Add(FieldError.Invalid($"{path}.activeDeadlineSeconds", deadline, NameValidation.InclusiveRangeError(1, int.MaxValue)));
        if (spec.SecurityContext is { } security)
        {
            var at = $"{path}.securityContext";
            Ids(security.RunAsUser, $"{at}.runAsUser", errors);
            Ids(security.RunAsGroup, $"{at}.runAsGroup", errors);
            Ids(security.FsGroup, $"{at}.fsGroup", errors);
            foreach (var (group, i) in (security.SupplementalGroups ?? []).Select((g, i) => (g, i)))
                Ids(group, $"{at}.supplementalGroups[{i}]", errors);
        }
        return errors;
    }

    /// <summary>Volume names (DNS-1123 labels, unique) and exactly one source each; returns the names.</summary>
    private static HashSet<string> ValidateVolumes(IList<V1Volume>? volumes, string path, List<FieldError> errors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (volume, i) in (volumes ?? []).Select((v, i) => (v, i)))
        {
            var at = $"{path}[{i}]";
            ValidateUniqueName(volume.Name, $"{at}.name", names, errors);
            var sources = VolumeSources(volume);
            if (sources.Count == 0) errors.Add(FieldError.Required(at, "must specify a volume type"));
            else if (sources.Count > 1) errors.Add(FieldError.Forbidden($"{at}.{sources[1]}", "may not specify more than 1 volume type"));
            if (volume.EmptyDir?.SizeLimit is { } sizeLimit && Cm.QuantityValues.Decimal(sizeLimit) < 0)
                errors.Add(FieldError.Forbidden($"{at}.emptyDir.sizeLimit", "SizeLimit field must be a valid resource quantity"));
            if (volume.DownwardAPI is { } downwardApi) EnvValidation.ValidateDownwardApiVolume(downwardApi.Items, downwardApi.DefaultMode, $"{at}.downwardAPI", errors);
            foreach (var (projection, p) in (volume.Projected?.Sources ?? []).Select((x, p) => (x, p)))
            {
                if (projection.DownwardAPI is { } projected) EnvValidation.ValidateDownwardApiVolume(projected.Items, null, $"{at}.projected.sources[{p}].downwardAPI", errors);
            }
        }
        return names;
    }

    /// <summary>A volume's or container's name: required, a DNS-1123 label, and not one <paramref name="names"/> already has (which it joins).</summary>
    private static void ValidateUniqueName(string? name, string path, HashSet<string> names, List<FieldError> errors)
    {
        if (string.IsNullOrEmpty(name))
        {
            errors.Add(FieldError.Required(path));
            return;
        }
        var invalid = NameValidation.IsDns1123Label(name);
        errors.AddRange(invalid.Select(m => FieldError.Invalid(path, name, m)));
        if (invalid.Count == 0 && !names.Add(name)) errors.Add(FieldError.Duplicate(path, name));
    }

    internal static List<string> VolumeSources(V1Volume volume) =>
        System.Text.Json.Nodes.JsonNode.Parse(k8s.KubernetesJson.Serialize(volume))!.AsObject()
            .Where(p => p.Key != "name" && p.Value is not null).Select(p => p.Key).ToList();

    private static void ValidateContainers(IList<V1Container>? containers, string path, HashSet<string> volumes, HashSet<string> names, V1PodSpec spec, List<FieldError> errors)
    {
        foreach (var (container, i) in (containers ?? []).Select((c, i) => (c, i)))
        {
            var at = $"{path}[{i}]";
            ValidateUniqueName(container.Name, $"{at}.name", names, errors);
            if (string.IsNullOrWhiteSpace(container.Image)) errors.Add(FieldError.Required($"{at}.image"));
            if (string.IsNullOrEmpty(container.ImagePullPolicy)) errors.Add(FieldError.Required($"{at}.imagePullPolicy"));
            else if (!PullPolicies.Contains(container.ImagePullPolicy)) errors.Add(FieldError.NotSupported($"{at}.imagePullPolicy", container.ImagePullPolicy, PullPolicies));
            ValidatePorts(container.Ports, $"{at}.ports", spec.HostNetwork == true, errors);
            EnvValidation.ValidateEnv(container.Env, $"{at}.env", errors);
            ValidateResources(container.Resources, $"{at}.resources", errors);
            ValidateProbe(container.LivenessProbe, $"{at}.livenessProbe", errors, successMustBeOne: true);
            ValidateProbe(container.ReadinessProbe, $"{at}.readinessProbe", errors, successMustBeOne: false);
            ValidateProbe(container.StartupProbe, $"{at}.startupProbe", errors, successMustBeOne: true);
            if (container.Lifecycle is { } lifecycle)
            {
                if (lifecycle.PostStart is { } postStart) ValidateHandler(postStart.Exec, postStart.HttpGet, postStart.TcpSocket, postStart.Sleep, null, $"{at}.lifecycle.postStart", errors);
                if (lifecycle.PreStop is { } preStop) ValidateHandler(preStop.Exec, preStop.HttpGet, preStop.TcpSocket, preStop.Sleep, null, $"{at}.lifecycle.preStop", errors);
            }
            ValidateMounts(container.VolumeMounts, $"{at}.volumeMounts", volumes, errors);
            if (container.SecurityContext is { } security)
            {
                var sc = $"{at}.securityContext";
                Ids(security.RunAsUser, $"{sc}.runAsUser", errors);
                Ids(security.RunAsGroup, $"{sc}.runAsGroup", errors);
                if (security.AllowPrivilegeEscalation == false && security.Privileged == true)
                    errors.Add(FieldError.Invalid(sc, "", "cannot set `allowPrivilegeEscalation` to false and `privileged` to true") with { ShowsValue = false });
                if (security.AllowPrivilegeEscalation == false && security.Capabilities?.Add?.Contains("CAP_SYS_ADMIN") == true)
                    errors.Add(FieldError.Invalid(sc, "", "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN") with { ShowsValue = false });
            }
        }
    }

    private static void ValidatePorts(IList<V1ContainerPort>? ports, string path, bool hostNetwork, List<FieldError> errors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (port, i) in (ports ?? []).Select((p, i) => (p, i)))
        {
            var at = $"{path}[{i}]";
            if (!string.IsNullOrEmpty(port.Name))
            {
                var invalid = NameValidation.IsValidPortName(port.Name);
                errors.AddRange(invalid.Select(m => FieldError.Invalid($"{at}.name", port.Name, m)));
                if (invalid.Count == 0 && !names.Add(port.Name)) errors.Add(FieldError.Duplicate($"{at}.name", port.Name));
            }
            if (port.ContainerPort == 0) errors.Add(FieldError.Required($"{at}.containerPort"));
            else errors.AddRange(NameValidation.IsValidPortNum(port.ContainerPort).Select(m => FieldError.Invalid($"{at}.containerPort", port.ContainerPort, m)));
            if (port.HostPort is { } hostPort and not 0)
                errors.AddRange(NameValidation.IsValidPortNum(hostPort).Select(m => FieldError.Invalid($"{at}.hostPort", hostPort, m)));
            if (string.IsNullOrEmpty(port.Protocol)) errors.Add(FieldError.Required($"{at}.protocol"));
            else if (!Protocols.Contains(port.Protocol)) errors.Add(FieldError.NotSupported($"{at}.protocol", port.Protocol, Protocols));
            if (hostNetwork && port.HostPort is { } hp and not 0 && hp != port.ContainerPort)
                errors.Add(FieldError.Invalid($"{at}.containerPort", port.ContainerPort, "must match `hostPort` when `hostNetwork` is true"));
        }
    }

    /// <summary>AccumulateUniqueHostPorts: one hostIP/protocol/hostPort per pod.</summary>
    private static void CheckHostPortConflicts(IList<V1Container>? containers, string path, List<FieldError> errors)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (container, c) in (containers ?? []).Select((x, i) => (x, i)))
        {
            foreach (var (port, p) in (container.Ports ?? []).Select((x, i) => (x, i)))
            {
                if (port.HostPort is null or 0) continue;
                var key = $"{port.HostIP}/{port.Protocol}/{port.HostPort}";
                if (!seen.Add(key)) errors.Add(FieldError.Duplicate($"{path}[{c}].ports[{p}].hostPort", key));
            }
        }
    }

    private static void ValidateResources(V1ResourceRequirements? resources, string path, List<FieldError> errors)
    {
        if (resources is null) return;
        var limits = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var (name, quantity) in (resources.Limits ?? new Dictionary<string, ResourceQuantity>()).OrderBy(l => l.Key, StringComparer.Ordinal))
        {
            if (Quantity(name, quantity, $"{path}.limits[{name}]", errors) is { } value) limits[name] = value;
        }
        foreach (var (name, quantity) in (resources.Requests ?? new Dictionary<string, ResourceQuantity>()).OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            var at = $"{path}.requests[{name}]";
            if (Quantity(name, quantity, at, errors) is not { } value) continue;
            if (limits.TryGetValue(name, out var limit) && value > limit)
                errors.Add(FieldError.Invalid(at, Cm.QuantityValues.Display(quantity), $"must be less than or equal to {name} limit of {Cm.QuantityValues.Display(resources.Limits![name])}"));
        }
    }

    private static decimal? Quantity(string name, ResourceQuantity? quantity, string path, List<FieldError> errors)
    {
        foreach (var message in NameValidation.IsQualifiedName(name)) errors.Add(FieldError.Invalid(path, name, message));
        if (quantity is null) return null;
        decimal value;
        try
        {
            value = Cm.QuantityValues.Decimal(quantity);
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            errors.Add(FieldError.Invalid(path, quantity.ToString(), "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
            return null;
        }
        if (value < 0) errors.Add(FieldError.Invalid(path, Cm.QuantityValues.Display(quantity), "must be greater than or equal to 0"));
        return value;
    }

    private static void ValidateProbe(V1Probe? probe, string path, List<FieldError> errors, bool successMustBeOne)
    {
        if (probe is null) return;
        ValidateHandler(probe.Exec, probe.HttpGet, probe.TcpSocket, null, probe.Grpc, path, errors);
        NonNegative(probe.InitialDelaySeconds, $"{path}.initialDelaySeconds", errors);
        NonNegative(probe.TimeoutSeconds, $"{path}.timeoutSeconds", errors);
        NonNegative(probe.PeriodSeconds, $"{path}.periodSeconds", errors);
        NonNegative(probe.SuccessThreshold, $"{path}.successThreshold", errors);
        NonNegative(probe.FailureThreshold, $"{path}.failureThreshold", errors);
        if (probe.TerminationGracePeriodSeconds is <= 0)
            errors.Add(FieldError.Invalid($"{path}.terminationGracePeriodSeconds", probe.TerminationGracePeriodSeconds.Value, "must be greater than 0"));
        if (successMustBeOne && probe.SuccessThreshold is { } success && success != 1)
            errors.Add(FieldError.Invalid($"{path}.successThreshold", success, "must be 1"));
    }

    /// <summary>validateHandler: exactly one handler, each with a valid port.</summary>
    private static void ValidateHandler(V1ExecAction? exec, V1HTTPGetAction? httpGet, V1TCPSocketAction? tcp, V1SleepAction? sleep, V1GRPCAction? grpc, string path, List<FieldError> errors)
    {
        var handlers = new (string Name, object? Value)[] { ("exec", exec), ("httpGet", httpGet), ("tcpSocket", tcp), ("grpc", grpc), ("sleep", sleep) }
            .Where(h => h.Value is not null).Select(h => h.Name).ToList();
        if (handlers.Count == 0) errors.Add(FieldError.Required(path, "must specify a handler type"));
        else if (handlers.Count > 1) errors.Add(FieldError.Forbidden($"{path}.{handlers[1]}", "may not specify more than 1 handler type"));
        if (exec is not null && exec.Command is not { Count: > 0 }) errors.Add(FieldError.Required($"{path}.exec.command"));
        if (httpGet is not null)
        {
            PortNumOrName(httpGet.Port, $"{path}.httpGet.port", errors);
            if (httpGet.Scheme is { } scheme && scheme is not ("HTTP" or "HTTPS"))
                errors.Add(FieldError.NotSupported($"{path}.httpGet.scheme", scheme, ["HTTP", "HTTPS"]));
        }
        if (tcp is not null) PortNumOrName(tcp.Port, $"{path}.tcpSocket.port", errors);
        if (grpc is not null) errors.AddRange(NameValidation.IsValidPortNum(grpc.Port).Select(m => FieldError.Invalid($"{path}.grpc.port", grpc.Port, m)));
        if (sleep is not null && sleep.Seconds < 0) errors.Add(FieldError.Invalid($"{path}.sleep.seconds", sleep.Seconds, "must be greater than or equal to 0"));
    }

    private static void PortNumOrName(IntOrString? port, string path, List<FieldError> errors)
    {
        var text = port?.Value ?? "";
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
            errors.AddRange(NameValidation.IsValidPortNum(number).Select(m => FieldError.Invalid(path, number, m)));
        else if (text.Length == 0) errors.Add(FieldError.Required(path));
        else errors.AddRange(NameValidation.IsValidPortName(text).Select(m => FieldError.Invalid(path, text, m)));
    }

    private static void ValidateMounts(IList<V1VolumeMount>? mounts, string path, HashSet<string> volumes, List<FieldError> errors)
    {
        var mountPoints = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (mount, i) in (mounts ?? []).Select((m, i) => (m, i)))
        {
            var at = $"{path}[{i}]";
            if (string.IsNullOrEmpty(mount.Name)) errors.Add(FieldError.Required($"{at}.name"));
            else if (!volumes.Contains(mount.Name)) errors.Add(FieldError.NotFound($"{at}.name", mount.Name));
            if (string.IsNullOrEmpty(mount.MountPath)) errors.Add(FieldError.Required($"{at}.mountPath"));
            else if (!mountPoints.Add(mount.MountPath)) errors.Add(FieldError.Invalid($"{at}.mountPath", mount.MountPath, "must be unique"));
            if (!string.IsNullOrEmpty(mount.SubPath)) LocalDescendingPath(mount.SubPath, $"{at}.subPath", errors);
            if (!string.IsNullOrEmpty(mount.SubPathExpr))
            {
                if (!string.IsNullOrEmpty(mount.SubPath))
                    errors.Add(FieldError.Invalid($"{at}.subPathExpr", mount.SubPathExpr, "subPathExpr and subPath are mutually exclusive"));
                LocalDescendingPath(mount.SubPathExpr, $"{at}.subPathExpr", errors);
            }
            if (mount.MountPropagation is { } propagation && propagation is not ("None" or "HostToContainer" or "Bidirectional"))
                errors.Add(FieldError.NotSupported($"{at}.mountPropagation", propagation, ["Bidirectional", "HostToContainer", "None"]));
        }
    }

    /// <summary>validateLocalDescendingPath: relative, and no ".." element.</summary>
    internal static void LocalDescendingPath(string value, string path, List<FieldError> errors)
    {
        if (value.StartsWith('/')) errors.Add(FieldError.Invalid(path, value, "must be a relative path"));
        if (value.Replace('\\', '/').Split('/').Contains("..")) errors.Add(FieldError.Invalid(path, value, "must not contain '..'"));
    }

    private static void ValidateDns(V1PodSpec spec, string path, List<FieldError> errors)
    {
        if (string.IsNullOrEmpty(spec.DnsPolicy)) errors.Add(FieldError.Required($"{path}.dnsPolicy"));
        else if (!DnsPolicies.Contains(spec.DnsPolicy)) errors.Add(FieldError.NotSupported($"{path}.dnsPolicy", spec.DnsPolicy, DnsPolicies));
        var config = spec.DnsConfig;
        if (spec.DnsPolicy == "None" && config is null)
        {
            errors.Add(FieldError.Required($"{path}.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"));
            return;
        }
        if (config is null) return;
        var at = $"{path}.dnsConfig";
        var nameservers = config.Nameservers ?? [];
        if (spec.DnsPolicy == "None" && nameservers.Count == 0)
            errors.Add(FieldError.Required($"{at}.nameservers", "must provide at least one DNS nameserver when `dnsPolicy` is None"));
        if (nameservers.Count > MaxDnsNameservers)
            errors.Add(FieldError.Invalid($"{at}.nameservers", string.Join(" ", nameservers), $"must not have more than {MaxDnsNameservers} nameservers"));
        foreach (var (nameserver, i) in nameservers.Select((n, i) => (n, i)))
        {
            if (!IPAddress.TryParse(nameserver, out _)) errors.Add(FieldError.Invalid($"{at}.nameservers[{i}]", nameserver, "must be a valid IP address"));
        }
        var searches = config.Searches ?? [];
        if (searches.Count > MaxDnsSearchPaths)
            errors.Add(FieldError.Invalid($"{at}.searches", string.Join(" ", searches), $"must not have more than {MaxDnsSearchPaths} search paths"));
        foreach (var (search, i) in searches.Select((s, i) => (s, i)))
        {
            var name = search.TrimEnd('.');
            if (search == ".") continue;
            errors.AddRange(NameValidation.IsDns1123Subdomain(name).Select(m => FieldError.Invalid($"{at}.searches[{i}]", search, m)));
        }
        foreach (var (option, i) in (config.Options ?? []).Select((o, i) => (o, i)))
        {
            if (string.IsNullOrEmpty(option.Name)) errors.Add(FieldError.Required($"{at}.options[{i}]", "Option.Name must not be empty"));
        }
    }

    private static void NonNegative(long? value, string path, List<FieldError> errors)
    {
        if (value is < 0) errors.Add(FieldError.Invalid(path, value.Value, "must be greater than or equal to 0"));
    }

    private static void Ids(long? id, string path, List<FieldError> errors)
    {
        if (id is { } value) errors.AddRange(NameValidation.IsValidId(value).Select(m => FieldError.Invalid(path, value, m)));
    }
}
