using System.Net;
using k8s.Models;
using KubeletPS.Core.Tests.Runtime;

namespace KubeletPS.Core.Tests.Server.Streaming;

/// <summary>
/// The pod UID form of the streaming paths (/run/{podNamespace}/{podID}/{uid}/{containerName}, likewise exec and attach)
/// attacked: the path names one pod and another pod's UID. kubelet's findContainer finds the pod by its full name and
/// never by the UID when a name is given, so the named pod's container is the only one reachable.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class StreamingUidAttackTests(ContainerdFixture fixture)
{
    [Fact]
    public async Task Run_naming_one_pod_with_another_pods_uid_does_not_reach_the_other_pods_container()
    {
        await using var host = await StreamingHost.StartAsync(fixture);
        var ns = host.Pod.Metadata.NamespaceProperty;
        // A pod the kubelet runs whose container is not running: what its name reaches.
        host.KnownPods.Add(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "decoy", NamespaceProperty = ns, Uid = "decoy-uid" },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = StreamingHost.Container, Image = "busybox" }] },
        });
        using var http = new HttpClient();

        var own = await http.PostAsync(host.Url($"/run/{ns}/{host.Pod.Metadata.Name}/{StreamingHost.Container}?cmd=echo%20reached"), null);
        var crossed = await http.PostAsync(host.Url($"/run/{ns}/decoy/{host.Pod.Metadata.Uid}/{StreamingHost.Container}?cmd=echo%20reached"), null);
        var crossedBody = await crossed.Content.ReadAsStringAsync();

        Assert.Equal("reached\n", await own.Content.ReadAsStringAsync());
        Assert.DoesNotContain("reached", crossedBody, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.InternalServerError, crossed.StatusCode);
        Assert.Equal($"container not found (\"{StreamingHost.Container}\")", crossedBody);
    }
}
