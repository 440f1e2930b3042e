using k8s.Models;
using KubeletPS.Core.Pods.Admission;
using KubeletPS.Core.Pods.Config;

namespace KubeletPS.Core.Tests.Pods.Admission;

public sealed class PodAdmissionTests
{
    private static V1Node Node(string cpu = "2", string memory = "1Gi", string pods = "110", string storage = "10Gi",
        Dictionary<string, string>? labels = null, List<V1Taint>? taints = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = "node-a", Labels = labels ?? new() { ["kubernetes.io/hostname"] = "node-a", ["disk"] = "ssd", ["cores"] = "8" } },
        Spec = new V1NodeSpec { Taints = taints },
        Status = new V1NodeStatus
        {
            Allocatable = new Dictionary<string, ResourceQuantity>
            {
                ["cpu"] = new(cpu), ["memory"] = new(memory), ["pods"] = new(pods), ["ephemeral-storage"] = new(storage),
            },
        },
    };

    private static V1Pod Pod(string name, string? cpu = null, string? memory = null, string? storage = null, List<V1Container>? init = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default", Uid = "uid-" + name },
        Spec = new V1PodSpec
        {
            Containers = [Container("main", cpu, memory, storage)],
            InitContainers = init,
        },
    };

    private static V1Container Container(string name, string? cpu = null, string? memory = null, string? storage = null, string? restartPolicy = null)
    {
        var requests = new Dictionary<string, ResourceQuantity>();
        if (cpu is not null) requests["cpu"] = new(cpu);
        if (memory is not null) requests["memory"] = new(memory);
        if (storage is not null) requests["ephemeral-storage"] = new(storage);
        return new V1Container { Name = name, Image = "busybox", Resources = new V1ResourceRequirements { Requests = requests }, RestartPolicy = restartPolicy };
    }

    [Fact]
    public void A_pod_that_fits_is_admitted()
    {
        var result = PodAdmission.Admit(Node(), Pod("a", cpu: "500m", memory: "256Mi"), [Pod("b", cpu: "1", memory: "512Mi")]);
        Assert.Equal(AdmissionResult.Admit, result);
    }

    [Fact]
    public void Memory_beyond_allocatable_minus_admitted_pods_is_OutOfmemory_with_kubelets_message()
    {
        var result = PodAdmission.Admit(Node(memory: "1Gi"), Pod("a", memory: "600Mi"), [Pod("b", memory: "512Mi")]);
        Assert.False(result.Admitted);
        Assert.Equal("OutOfmemory", result.Reason);
        Assert.Equal($"Pod was rejected: Node didn't have enough resource: memory, requested: {600 * 1024 * 1024}, used: {512 * 1024 * 1024}, capacity: {1024 * 1024 * 1024}", result.Message);
    }

    [Fact]
    public void Cpu_is_compared_in_millicores()
    {
        var result = PodAdmission.Admit(Node(cpu: "2"), Pod("a", cpu: "1500m"), [Pod("b", cpu: "600m")]);
        Assert.Equal(("OutOfcpu", "Pod was rejected: Node didn't have enough resource: cpu, requested: 1500, used: 600, capacity: 2000"), (result.Reason, result.Message));
    }

    [Fact]
    public void Pod_count_and_ephemeral_storage_are_checked()
    {
        var full = PodAdmission.Admit(Node(pods: "2"), Pod("a"), [Pod("b"), Pod("c")]);
        Assert.Equal(("OutOfpods", "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 2, capacity: 2"), (full.Reason, full.Message));
        var storage = PodAdmission.Admit(Node(storage: "1Gi"), Pod("a", storage: "2Gi"), []);
        Assert.Equal("OutOfephemeral-storage", storage.Reason);
    }

    [Fact]
    public void The_pod_itself_among_the_admitted_pods_is_not_counted_twice()
    {
        var pod = Pod("a", memory: "600Mi");
        Assert.True(PodAdmission.Admit(Node(memory: "1Gi"), pod, [pod]).Admitted);
    }

    [Fact]
    public void Requests_take_the_largest_init_container_and_add_sidecars_and_overhead()
    {
        var pod = Pod("a", cpu: "100m", memory: "100Mi", init: [Container("setup", cpu: "1", memory: "50Mi"), Container("proxy", cpu: "200m", restartPolicy: "Always")]);
        pod.Spec.Overhead = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("10m") };
        var requests = PodAdmission.ComputeRequests(pod);
        // cpu: max(1000 (setup), 100 + 200) + 10; memory: max(50Mi, 100Mi).
        Assert.Equal(new PodResourceRequests(1010, 100 * 1024 * 1024, 0), requests);
    }

    [Fact]
    public void A_node_selector_not_matching_the_node_labels_is_NodeAffinity()
    {
        var pod = Pod("a");
        pod.Spec.NodeSelector = new Dictionary<string, string> { ["disk"] = "hdd" };
        var result = PodAdmission.Admit(Node(), pod, []);
        Assert.Equal(("NodeAffinity", "Pod was rejected: Predicate NodeAffinity failed"), (result.Reason, result.Message));
        pod.Spec.NodeSelector["disk"] = "ssd";
        Assert.True(PodAdmission.Admit(Node(), pod, []).Admitted);
    }

    [Theory]
    [InlineData("disk", "In", "ssd,nvme", true)]
    [InlineData("disk", "In", "hdd", false)]
    [InlineData("disk", "NotIn", "hdd", true)]
    [InlineData("disk", "NotIn", "ssd", false)]
    [InlineData("gpu", "NotIn", "x", true)]
    [InlineData("disk", "Exists", "", true)]
    [InlineData("gpu", "Exists", "", false)]
    [InlineData("gpu", "DoesNotExist", "", true)]
    [InlineData("disk", "DoesNotExist", "", false)]
    [InlineData("cores", "Gt", "4", true)]
    [InlineData("cores", "Gt", "8", false)]
    [InlineData("cores", "Lt", "16", true)]
    [InlineData("cores", "Lt", "2", false)]
    public void Required_node_affinity_expressions(string key, string op, string values, bool admitted)
    {
        var pod = Pod("a");
        pod.Spec.Affinity = new V1Affinity
        {
            NodeAffinity = new V1NodeAffinity
            {
                RequiredDuringSchedulingIgnoredDuringExecution = new V1NodeSelector
                {
                    NodeSelectorTerms =
                    [
                        new V1NodeSelectorTerm
                        {
                            MatchExpressions = [new V1NodeSelectorRequirement { Key = key, OperatorProperty = op, Values = values.Length == 0 ? null : values.Split(',') }],
                        },
                    ],
                },
            },
        };
        var result = PodAdmission.Admit(Node(), pod, []);
        Assert.Equal(admitted, result.Admitted);
        if (!admitted) Assert.Equal("NodeAffinity", result.Reason);
    }

    [Fact]
    public void Node_selector_terms_are_ORed()
    {
        var pod = Pod("a");
        pod.Spec.Affinity = new V1Affinity
        {
            NodeAffinity = new V1NodeAffinity
            {
                RequiredDuringSchedulingIgnoredDuringExecution = new V1NodeSelector
                {
                    NodeSelectorTerms =
                    [
                        new V1NodeSelectorTerm { MatchExpressions = [new V1NodeSelectorRequirement { Key = "gpu", OperatorProperty = "Exists" }] },
                        new V1NodeSelectorTerm { MatchFields = [new V1NodeSelectorRequirement { Key = "metadata.name", OperatorProperty = "In", Values = ["node-a"] }] },
                    ],
                },
            },
        };
        Assert.True(PodAdmission.Admit(Node(), pod, []).Admitted);
    }

    [Fact]
    public void An_untolerated_NoExecute_taint_rejects_the_pod_and_a_toleration_admits_it()
    {
        var node = Node(taints: [new V1Taint { Key = "dedicated", Value = "db", Effect = "NoExecute" }]);
        var pod = Pod("a");
        var result = PodAdmission.Admit(node, pod, []);
        Assert.Equal(("TaintToleration", "Pod was rejected: Predicate TaintToleration failed"), (result.Reason, result.Message));

        pod.Spec.Tolerations = [new V1Toleration { Key = "dedicated", OperatorProperty = "Equal", Value = "db", Effect = "NoExecute" }];
        Assert.True(PodAdmission.Admit(node, pod, []).Admitted);
        pod.Spec.Tolerations = [new V1Toleration { OperatorProperty = "Exists" }];
        Assert.True(PodAdmission.Admit(node, pod, []).Admitted);
        pod.Spec.Tolerations = [new V1Toleration { Key = "dedicated", Value = "web", Effect = "NoExecute" }];
        Assert.False(PodAdmission.Admit(node, pod, []).Admitted);
    }

    [Fact]
    public void NoSchedule_taints_are_left_to_the_scheduler_and_static_pods_skip_the_taint_check()
    {
        Assert.True(PodAdmission.Admit(Node(taints: [new V1Taint { Key = "maintenance", Effect = "NoSchedule" }]), Pod("a"), []).Admitted);
        var staticPod = Pod("s");
        staticPod.Metadata.Annotations = new Dictionary<string, string> { [PodAnnotations.ConfigSource] = "file" };
        Assert.True(PodAdmission.Admit(Node(taints: [new V1Taint { Key = "x", Effect = "NoExecute" }]), staticPod, []).Admitted);
    }

    [Fact]
    public void A_rejected_pod_gets_a_Failed_status_with_reason_and_message()
    {
        var pod = Pod("a", memory: "2Gi");
        var result = PodAdmission.Admit(Node(), pod, []);
        var status = PodAdmission.RejectedStatus(pod, result);
        Assert.Equal(("Failed", "OutOfmemory"), (status.Phase, status.Reason));
        Assert.StartsWith("Pod was rejected: Node didn't have enough resource: memory", status.Message);
    }
}
