using KubeletPS.Core.Pods.Config;

namespace KubeletPS.Core.Tests.Pods.Validation;

/// <summary>
/// Static pods are validated as the API server validates a pod on create, after kubelet's defaulting:
/// each refusal names the file, the field path and the line, in the API server's words.
/// </summary>
public sealed class StaticPodValidationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kubeletps-validation-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private StaticPodSource Source() => new(_dir, "node-a", TimeSpan.FromSeconds(20));

    /// <summary>A valid pod; each case replaces one of its lines (line numbers below are of the result).</summary>
    internal const string Good = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: good
          labels:
            app: good
          annotations:
            note: fine
        spec:
          containers:
          - name: main
            image: busybox
            ports:
            - name: http
              containerPort: 8080
              hostPort: 18080
            resources:
              requests:
                memory: 32Mi
              limits:
                memory: 64Mi
            livenessProbe:
              tcpSocket:
                port: 8080
            volumeMounts:
            - name: data
              mountPath: /data
          volumes:
          - name: data
            emptyDir: {}
        """;

    private static string With(string find, string replace)
    {
        Assert.Contains(find, Good, StringComparison.Ordinal);
        return Good.Replace(find, replace, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string, int> Invalid => new()
    {
        { With("name: good", "name: Bad_Name!"), "metadata.name",
            "metadata.name: Invalid value: \"Bad_Name!-node-a\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')", 4 },
        { With("name: good", "name: " + new string('a', 300)), "metadata.name", "must be no more than 253 characters", 4 },
        { With("  name: good\n", "  name: good\n  namespace: Kube_System\n"), "metadata.namespace", "metadata.namespace: Invalid value: \"Kube_System\": a lowercase RFC 1123 label", 5 },
        { With("app: good", "app/x/y: good"), "metadata.labels", "metadata.labels: Invalid value: \"app/x/y\": a qualified name must consist of", 6 },
        { With("app: good", "app: -bad-"), "metadata.labels", "metadata.labels: Invalid value: \"-bad-\": a valid label must be an empty string or consist of", 6 },
        { With("app: good", "app: " + new string('v', 64)), "metadata.labels", "must be no more than 63 characters", 6 },
        { With("note: fine", "note: " + new string('x', 300 * 1024)), "metadata.annotations", "metadata.annotations: Too long: must have at most 262144 bytes", 8 },
        { With("note: fine", "\"not a key\": fine"), "metadata.annotations", "metadata.annotations: Invalid value: \"not a key\": name part must consist of", 8 },
        { With("- name: main", "- name: Main_1"), "spec.containers[0].name", "spec.containers[0].name: Invalid value: \"Main_1\": a lowercase RFC 1123 label must consist of", 11 },
        { With("containerPort: 8080", "containerPort: 70000"), "spec.containers[0].ports[0].containerPort", "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive", 15 },
        { With("hostPort: 18080", "hostPort: 65536"), "spec.containers[0].ports[0].hostPort", "spec.containers[0].ports[0].hostPort: Invalid value: 65536: must be between 1 and 65535, inclusive", 16 },
        { With("hostPort: 18080", "hostPort: 18080\n      protocol: ICMP"), "spec.containers[0].ports[0].protocol", "spec.containers[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"", 17 },
        { With("hostPort: 18080", "hostPort: 18080\n    - name: http\n      containerPort: 8081"), "spec.containers[0].ports[1].name", "spec.containers[0].ports[1].name: Duplicate value: \"http\"", 17 },
        { With("hostPort: 18080", "hostPort: 18080\n    - containerPort: 8081\n      hostPort: 18080"), "spec.containers[0].ports[1].hostPort", "spec.containers[0].ports[1].hostPort: Duplicate value: \"/TCP/18080\"", 18 },
        { With("memory: 32Mi", "memory: 128Mi"), "spec.containers[0].resources.requests[memory]", "spec.containers[0].resources.requests[memory]: Invalid value: \"128Mi\": must be less than or equal to memory limit of 64Mi", 19 },
        { With("memory: 64Mi", "memory: -64Mi"), "spec.containers[0].resources.limits[memory]", "must be greater than or equal to 0", 21 },
        { With("      tcpSocket:\n        port: 8080", "      tcpSocket:\n        port: 8080\n      exec:\n        command: [\"true\"]"), "spec.containers[0].livenessProbe.tcpSocket", "Forbidden: may not specify more than 1 handler type", 23 },
        { With("      tcpSocket:\n        port: 8080", "      periodSeconds: 5"), "spec.containers[0].livenessProbe", "spec.containers[0].livenessProbe: Required value: must specify a handler type", 22 },
        { With("        port: 8080", "        port: 8080\n      successThreshold: 2"), "spec.containers[0].livenessProbe.successThreshold", "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1", 25 },
        { With("        port: 8080", "        port: 8080\n      failureThreshold: -1"), "spec.containers[0].livenessProbe.failureThreshold", "Invalid value: -1: must be greater than or equal to 0", 25 },
        { With("- name: data\n      mountPath", "- name: other\n      mountPath"), "spec.containers[0].volumeMounts[0].name", "spec.containers[0].volumeMounts[0].name: Not found: \"other\"", 26 },
        { With("mountPath: /data", "mountPath: /data\n      subPath: /etc"), "spec.containers[0].volumeMounts[0].subPath", "spec.containers[0].volumeMounts[0].subPath: Invalid value: \"/etc\": must be a relative path", 28 },
        { With("mountPath: /data", "mountPath: /data\n      subPath: a/../../etc"), "spec.containers[0].volumeMounts[0].subPath", "Invalid value: \"a/../../etc\": must not contain '..'", 28 },
        { With("mountPath: /data", "mountPath: /data\n      subPath: a\n      subPathExpr: b"), "spec.containers[0].volumeMounts[0].subPathExpr", "subPathExpr and subPath are mutually exclusive", 29 },
        { With("mountPath: /data", "mountPath: /data\n    - name: data\n      mountPath: /data"), "spec.containers[0].volumeMounts[1].mountPath", "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/data\": must be unique", 29 },
        { With("  - name: data\n    emptyDir", "  - name: Data_1\n    emptyDir"), "spec.volumes[0].name", "spec.volumes[0].name: Invalid value: \"Data_1\": a lowercase RFC 1123 label", 29 },
        { With("    emptyDir: {}", "    emptyDir: {}\n  - name: data\n    emptyDir: {}"), "spec.volumes[1].name", "spec.volumes[1].name: Duplicate value: \"data\"", 31 },
        { With("    emptyDir: {}", "    emptyDir: {}\n    hostPath:\n      path: /tmp"), "spec.volumes[0].hostPath", "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type", 31 },
        { With("  volumes:", "  restartPolicy: Sometimes\n  volumes:"), "spec.restartPolicy", "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"", 28 },
        { With("  volumes:", "  dnsPolicy: Google\n  volumes:"), "spec.dnsPolicy", "spec.dnsPolicy: Unsupported value: \"Google\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"", 28 },
        { With("  volumes:", "  dnsPolicy: None\n  volumes:"), "spec.dnsConfig", "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None", 9 },
        { With("  volumes:", "  terminationGracePeriodSeconds: -5\n  volumes:"), "spec.terminationGracePeriodSeconds", "spec.terminationGracePeriodSeconds: Invalid value: -5: must be greater than or equal to 0", 28 },
        { With("  volumes:", "  securityContext:\n    runAsUser: -1\n  volumes:"), "spec.securityContext.runAsUser", "spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive", 29 },
        { With("    image: busybox", "    image: busybox\n    securityContext:\n      runAsGroup: 4294967296"), "spec.containers[0].securityContext.runAsGroup", "must be between 0 and 2147483647, inclusive", 14 },
        { With("    image: busybox", "    image: busybox\n    imagePullPolicy: Sometimes"), "spec.containers[0].imagePullPolicy", "Unsupported value: \"Sometimes\"", 13 },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void An_invalid_static_pod_is_refused_with_the_api_servers_message_its_field_and_line(string manifest, string field, string expected, int line)
    {
        var file = Path.Combine(_dir, "pod.yaml");
        File.WriteAllText(file, manifest);
        var e = Assert.Throws<KubeletConfigException>(() => Source().ReadPod(file));
        Assert.Equal(file, e.Path);
        Assert.Equal(field, e.Field);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Equal(line, e.Line);
        Assert.StartsWith($"{file}:{line}:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_good_pod_used_by_the_cases_is_valid()
    {
        var file = Path.Combine(_dir, "pod.yaml");
        File.WriteAllText(file, Good);
        Assert.Equal("good-node-a", Source().ReadPod(file).Metadata.Name);
    }

    [Fact]
    public void Every_error_of_a_pod_is_reported_together_each_with_its_line()
    {
        var file = Path.Combine(_dir, "pod.yaml");
        File.WriteAllText(file, With("containerPort: 8080", "containerPort: 70000").Replace("- name: main", "- name: Main_1"));
        var e = Assert.Throws<KubeletConfigException>(() => Source().ReadPod(file));
        Assert.Contains("invalid pod: spec.containers[0].name: Invalid value: \"Main_1\"", e.Message, StringComparison.Ordinal);
        Assert.Contains("spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive (line 15)", e.Message, StringComparison.Ordinal);
        Assert.Equal(11, e.Line);
    }
}
