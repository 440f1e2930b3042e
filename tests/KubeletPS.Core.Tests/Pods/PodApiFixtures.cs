using System.Text.Json.Nodes;
using k8s.Models;
using KubeletPS.Core.Pods.Config;
using KubeletPS.TestCluster.Server;

namespace KubeletPS.Core.Tests.Pods;

/// <summary>Objects the pod tests put into the test API server.</summary>
internal static class PodApiFixtures
{
    public static JsonObject CreatePod(TestApiServer server, string name, string? node = "node-a", string ns = "default", string? statusJson = null)
    {
        var pod = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["spec"] = new JsonObject { ["containers"] = JsonNode.Parse("""[{"name":"c","image":"busybox"}]""") },
        };
        if (node is not null) pod["spec"]!["nodeName"] = node;
        var created = server.Store.Create("pods", pod);
        // Creation resets the status (PodStrategy.PrepareForCreate); a status given here is then written as the kubelet would.
        return statusJson is null ? created : server.Store.Update("pods", ns, name, p => p["status"] = JsonNode.Parse(statusJson));
    }

    public static JsonObject CreateNode(TestApiServer server, string name = "node-a") =>
        server.Store.Create("nodes", new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Node", ["metadata"] = new JsonObject { ["name"] = name } });

    public static V1Pod ToPod(JsonObject json) => k8s.KubernetesJson.Deserialize<V1Pod>(json.ToJsonString());

    /// <summary>A static pod as StaticPodSource makes it (source file, config hash = UID).</summary>
    public static V1Pod StaticPod(string name, string uid, string image = "busybox", string node = "node-a") => new()
    {
        ApiVersion = "v1",
        Kind = "Pod",
        Metadata = new V1ObjectMeta
        {
            Name = $"{name}-{node}",
            NamespaceProperty = "kube-system",
            Uid = uid,
            Labels = new Dictionary<string, string> { ["component"] = name },
            Annotations = new Dictionary<string, string> { [PodAnnotations.ConfigSource] = "file", [PodAnnotations.ConfigHash] = uid },
        },
        Spec = new V1PodSpec { NodeName = node, Containers = [new V1Container { Name = name, Image = image }] },
    };

    public static V1PodStatus Running(int restarts = 0, bool ready = true) => new()
    {
        Phase = "Running",
        HostIP = "10.1.2.3",
        PodIP = "10.88.0.5",
        Conditions =
        [
            new V1PodCondition { Type = "Ready", Status = ready ? "True" : "False" },
            new V1PodCondition { Type = "ContainersReady", Status = ready ? "True" : "False" },
        ],
        ContainerStatuses =
        [
            new V1ContainerStatus
            {
                Name = "c", Image = "busybox", ImageID = "sha256:1", Ready = ready, RestartCount = restarts, Started = true,
                State = new V1ContainerState { Running = new V1ContainerStateRunning() },
            },
        ],
    };
}
