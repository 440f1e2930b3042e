using System.Diagnostics;
using k8s.Models;
using KubeletPS.Core.Api;
using KubeletPS.Core.Pods.Config;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Probes;
using KubeletPS.Core.Pods.Status;
using KubeletPS.Core.Pods.Workers;

namespace KubeletPS.Core.Agent;

/// <summary>
/// The pure half of a pod's first sync, run once on a sample pod while the agent connects to its runtime: the
/// manifest decoded (YAML, the API's JSON, defaults, validation), the semantic key and a deep copy, the actions for a
/// pod the runtime does not have, each container's resources and hash, and the status generated for it. None of it
/// touches the node or the runtime. What it saves is the first burst's one-time work, done on the critical path of
/// the first pods otherwise: the JSON metadata of the pod's types (KubernetesClient's serializer builds it on first
/// use) and the generic code the JIT compiles for them, which ReadyToRun cannot precompile across assemblies.
/// </summary>
internal static class PodPathWarmup
{
    /// <summary>A pod with the parts most pods have: an init container, env, ports, resources, probes, mounts, volumes.</summary>
    internal const string SampleManifest = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: warmup
          namespace: kube-system
          labels: {app: warmup}
          annotations: {example.com/note: warmup}
        spec:
          restartPolicy: Always
          terminationGracePeriodSeconds: 30
          securityContext: {runAsUser: 1000, fsGroup: 2000}
          initContainers:
          - name: init
            image: registry.example/warmup:1
            command: [sh, -c, "true"]
          containers:
          - name: main
            image: registry.example/warmup:1
            imagePullPolicy: IfNotPresent
            command: [sh, -c]
            args: ["sleep 3600"]
            workingDir: /
            env:
            - {name: MODE, value: warm}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            ports:
            - {name: http, containerPort: 8080, protocol: TCP}
            resources:
              requests: {cpu: 100m, memory: 64Mi}
              limits: {cpu: 200m, memory: 128Mi}
            readinessProbe:
              httpGet: {path: /healthz, port: 8080}
              periodSeconds: 10
            livenessProbe:
              exec: {command: ["true"]}
            securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
            volumeMounts:
            - {name: scratch, mountPath: /scratch}
            - {name: config, mountPath: /etc/warmup, readOnly: true}
          volumes:
          - name: scratch
            emptyDir: {sizeLimit: 64Mi}
          - name: config
            configMap: {name: warmup}
        """;

    /// <summary>Runs the pure pod path once; returns how long it took and how many methods the JIT compiled meanwhile.</summary>
    public static (TimeSpan Elapsed, long MethodsCompiled) Run(string nodeName, PodStatusGenerator statusGenerator)
    {
        var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        var watch = Stopwatch.StartNew();
        var source = new StaticPodSource(Path.GetTempPath(), nodeName, TimeSpan.FromMinutes(1));
        var pod = source.DecodePod(SampleManifest, "(warm-up sample)");
        var copy = KubeObjects.DeepCopy(pod);
        _ = PodSemantics.DifferSemantically(pod, copy);
        var runtime = new RuntimePodStatus(pod.Metadata.Uid, pod.Metadata.Name, pod.Metadata.NamespaceProperty, [], []);
        _ = PodActionDecisions.ComputePodActions(pod, runtime, NoProbeResults.Instance, new CrashLoopBackOff());
        foreach (var (container, _) in PodRuntimeSpecs.AllContainers(pod))
        {
            _ = PodRuntimeSpecs.Resources(pod, container);
            _ = PodRuntimeSpecs.Hash(container);
        }
        var status = statusGenerator.Generate(pod, runtime, previous: null, new Dictionary<string, ContainerWaiting>(), probes: null);
        _ = KubeObjects.DeepCopy(status);
        return (watch.Elapsed, System.Runtime.JitInfo.GetCompiledMethodCount() - compiled);
    }

    private sealed class NoProbeResults : IProbeResults
    {
        public static readonly NoProbeResults Instance = new();

        public bool IsStarted(V1Container container, string containerId) => true;

        public (ProbeType Type, ProbeOutcome Outcome)? RestartReason(string containerId) => null;
    }
}
