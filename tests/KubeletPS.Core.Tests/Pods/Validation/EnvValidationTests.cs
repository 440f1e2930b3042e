using KubeletPS.Core.Pods.Config;

namespace KubeletPS.Core.Tests.Pods.Validation;

/// <summary>
/// A static pod's env and downward API are validated as the API server (1.32) validates them: env names, one
/// source per valueFrom, the field paths env and downwardAPI volumes may read, the resources and the divisors the
/// API takes for each, and volume item paths and modes. Each refusal names the file, the field and the line.
/// </summary>
public sealed class EnvValidationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kubeletps-env-validation-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private StaticPodSource Source() => new(_dir, "node-a", TimeSpan.FromSeconds(20));

    /// <summary>A valid pod; each case replaces some of its text (line numbers below are of the result).</summary>
    private const string Good = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: env
        spec:
          containers:
          - name: main
            image: busybox
            env:
            - name: NODE
              valueFrom:
                fieldRef:
                  fieldPath: spec.nodeName
            - name: CPU
              valueFrom:
                resourceFieldRef:
                  resource: limits.cpu
                  divisor: 1m
            volumeMounts:
            - name: info
              mountPath: /info
          volumes:
          - name: info
            downwardAPI:
              items:
              - path: labels
                fieldRef:
                  fieldPath: metadata.labels
              - path: mem
                resourceFieldRef:
                  containerName: main
                  resource: requests.memory
                  divisor: 1Mi
        """;

    private static string With(string find, string replace)
    {
        Assert.Equal(1, Good.Split(find).Length - 1);
        return Good.Replace(find, replace, StringComparison.Ordinal);
    }

    private const string ByteDivisors = "1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei";

    public static TheoryData<string, string, string, int> Invalid => new()
    {
        { With("- name: NODE", "- name: NODE=1"), "spec.containers[0].env[0].name",
            "spec.containers[0].env[0].name: Invalid value: \"NODE=1\": a valid environment variable name must consist only of printable ASCII characters other than '='", 10 },
        { With("    - name: NODE\n", "    - name: NODE\n      value: x\n"), "spec.containers[0].env[0].valueFrom",
            "spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty", 12 },
        { With("fieldPath: spec.nodeName\n", "fieldPath: spec.nodeName\n        resourceFieldRef:\n          resource: limits.cpu\n"), "spec.containers[0].env[0].valueFrom",
            "spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not have more than one field specified at a time", 11 },
        { With("fieldPath: spec.nodeName", "fieldPath: spec.bogus"), "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath",
            "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Invalid value: \"spec.bogus\": error converting fieldPath: field label not supported: spec.bogus", 13 },
        { With("fieldPath: spec.nodeName", "fieldPath: metadata.labels"), "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath",
            "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: \"metadata.labels\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"", 13 },
        { With("fieldPath: spec.nodeName", "fieldPath: metadata.labels['bad key']"), "spec.containers[0].env[0].valueFrom.fieldRef",
            "spec.containers[0].env[0].valueFrom.fieldRef: Invalid value: \"bad key\": name part must consist of alphanumeric characters", 13 },
        { With("fieldPath: spec.nodeName", "fieldPath: spec.nodeName['x']"), "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath",
            "error converting fieldPath: field label does not support subscript: spec.nodeName['x']", 13 },
        { With("          fieldPath: spec.nodeName", "          apiVersion: v2\n          fieldPath: spec.nodeName"), "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath",
            "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Invalid value: \"spec.nodeName\": error converting fieldPath: unsupported pod version: v2", 14 },
        { With("divisor: 1m", "divisor: 10m"), "spec.containers[0].env[1].valueFrom.resourceFieldRef.divisor",
            "spec.containers[0].env[1].valueFrom.resourceFieldRef.divisor: Invalid value: \"limits.cpu\": only divisor's values 1m and 1 are supported with the cpu resource", 18 },
        { With("divisor: 1m", "divisor: 1e3"), "spec.containers[0].env[1].valueFrom.resourceFieldRef.divisor", "only divisor's values 1m and 1 are supported with the cpu resource", 18 },
        { With("resource: limits.cpu", "resource: limits.gpu"), "spec.containers[0].env[1].valueFrom.resourceFieldRef.resource",
            "spec.containers[0].env[1].valueFrom.resourceFieldRef.resource: Unsupported value: \"limits.gpu\": supported values: \"limits.cpu\", \"limits.ephemeral-storage\", \"limits.memory\", \"requests.cpu\", \"requests.ephemeral-storage\", \"requests.memory\"", 17 },
        { With("- path: labels", "- path: ../labels"), "spec.volumes[0].downwardAPI.path", "spec.volumes[0].downwardAPI.path: Invalid value: \"../labels\": must not contain '..'", 26 },
        { With("- path: labels", "- path: ..labels"), "spec.volumes[0].downwardAPI.path", "spec.volumes[0].downwardAPI.path: Invalid value: \"..labels\": must not start with '..'", 26 },
        { With("- path: labels", "- path: /labels"), "spec.volumes[0].downwardAPI.path", "spec.volumes[0].downwardAPI.path: Invalid value: \"/labels\": must be a relative path", 26 },
        { With("- path: labels", "- path: labels\n        mode: 512"), "spec.volumes[0].downwardAPI.mode",
            "spec.volumes[0].downwardAPI.mode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive", 27 },
        { With("fieldPath: metadata.labels", "fieldPath: spec.nodeName"), "spec.volumes[0].downwardAPI.fieldRef.fieldPath",
            "spec.volumes[0].downwardAPI.fieldRef.fieldPath: Unsupported value: \"spec.nodeName\": supported values: \"metadata.annotations\", \"metadata.labels\", \"metadata.name\", \"metadata.namespace\", \"metadata.uid\"", 28 },
        { With("containerName: main", "containerName: \"\""), "spec.volumes[0].downwardAPI.resourceFieldRef.containerName",
            "spec.volumes[0].downwardAPI.resourceFieldRef.containerName: Required value", 30 },
        { With("divisor: 1Mi", "divisor: 3Mi"), "spec.volumes[0].downwardAPI.resourceFieldRef.divisor",
            $"spec.volumes[0].downwardAPI.resourceFieldRef.divisor: Invalid value: \"requests.memory\": only divisor's values {ByteDivisors} are supported with the memory resource", 33 },
        { With("divisor: 1Mi", "divisor: -1Mi"), "spec.volumes[0].downwardAPI.resourceFieldRef.divisor", "are supported with the memory resource", 33 },
        { With("    image: busybox\n", "    image: busybox\n    resources:\n      requests:\n        memory: -64Mi\n"), "spec.containers[0].resources.requests[memory]",
            "spec.containers[0].resources.requests[memory]: Invalid value: \"-64Mi\": must be greater than or equal to 0", 11 },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void An_invalid_env_or_downward_api_field_is_refused_with_the_api_servers_message_its_field_and_line(string manifest, string field, string expected, int line)
    {
        var file = Path.Combine(_dir, "pod.yaml");
        File.WriteAllText(file, manifest);
        var e = Assert.Throws<KubeletConfigException>(() => Source().ReadPod(file));
        Assert.Equal(field, e.Field);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Equal(line, e.Line);
    }

    [Theory]
    [InlineData("divisor: 1m", "divisor: \"1\"")]
    [InlineData("divisor: 1m", "divisor: 1000m")]
    [InlineData("divisor: 1m", "divisor: \"0\"")]
    [InlineData("divisor: 1Mi", "divisor: 1024Ki")]
    [InlineData("divisor: 1Mi", "divisor: 1k")]
    [InlineData("resource: requests.memory", "resource: requests.hugepages-2Mi")]
    [InlineData("fieldPath: spec.nodeName", "fieldPath: metadata.labels['app']")]
    [InlineData("fieldPath: spec.nodeName", "fieldPath: spec.host")]
    [InlineData("          fieldPath: spec.nodeName", "          apiVersion: v1\n          fieldPath: status.podIPs")]
    [InlineData("- path: labels", "- path: a/..b\n        mode: 511")]
    public void What_the_api_server_takes_is_taken(string find, string replace)
    {
        var file = Path.Combine(_dir, "pod.yaml");
        File.WriteAllText(file, With(find, replace));
        Assert.Equal("env-node-a", Source().ReadPod(file).Metadata.Name);
    }

    [Fact]
    public void The_good_pod_used_by_the_cases_is_valid()
    {
        var file = Path.Combine(_dir, "pod.yaml");
        File.WriteAllText(file, Good);
        Assert.Equal("env-node-a", Source().ReadPod(file).Metadata.Name);
    }
}
