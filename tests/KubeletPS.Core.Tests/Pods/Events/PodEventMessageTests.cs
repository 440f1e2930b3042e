using k8s.Models;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.Objects;
using KubeletPS.Core.Pods.Probes;
using KubeletPS.Core.Pods.Token;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Server;
using static KubeletPS.Core.Tests.Pods.PodApiFixtures;

namespace KubeletPS.Core.Tests.Pods.Events;

/// <summary>Kubelet's wording for Unhealthy and FailedMount events, and how the recorder adds up their repeats.</summary>
public sealed class PodEventMessageTests : IAsyncLifetime
{
    private TestApiServer _server = null!;
    private readonly string _root = Directory.CreateTempSubdirectory("kubeletps-events-").FullName;

    public async Task InitializeAsync() => _server = await TestApiServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_root, true);
    }

    [Fact]
    public void A_failed_exec_probe_reports_the_command_output_as_kubelet_does()
    {
        var outcome = new ProbeOutcome(ProbeResult.Failure, "command cat /tmp/healthy exited with 1: cat: can't open '/tmp/healthy'")
        {
            Output = "cat: can't open '/tmp/healthy'\n",
        };
        Assert.Equal("Liveness probe failed: cat: can't open '/tmp/healthy'\n", ProbeManager.UnhealthyMessage(ProbeType.Liveness, outcome));
    }

    [Fact]
    public void A_failed_http_probe_reports_its_message_and_a_probe_that_could_not_run_is_an_error()
    {
        Assert.Equal("Readiness probe failed: HTTP probe failed with statuscode: 500",
            ProbeManager.UnhealthyMessage(ProbeType.Readiness, new ProbeOutcome(ProbeResult.Failure, "HTTP probe failed with statuscode: 500")));
        Assert.Equal("Startup probe errored and resulted in unknown state: port \"web\" is neither a number nor the name of a port of the container.",
            ProbeManager.UnhealthyMessage(ProbeType.Startup, new ProbeOutcome(ProbeResult.Unknown, "port \"web\" is neither a number nor the name of a port of the container.")));
    }

    private sealed class NoObjects : IPodConfigObjects
    {
        public IReadOnlyDictionary<string, byte[]>? GetConfigMap(string ns, string name) => null;
        public IReadOnlyDictionary<string, byte[]>? GetSecret(string ns, string name) => null;
        public ServiceAccountToken CreateServiceAccountToken(ServiceAccountTokenRequest request) => throw new ContainerConfigException($"serviceaccounts \"{request.ServiceAccountName}\" not found");
    }

    private string PrepareError(params V1Volume[] volumes)
    {
        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "default", Uid = Guid.NewGuid().ToString() },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "busybox" }], Volumes = volumes },
        };
        var e = Assert.Throws<ContainerConfigException>(() => new PodVolumes(_root, new NoObjects()).Prepare(pod));
        return VolumeSetUpErrors.FailedMountMessage(e.Message);
    }

    [Fact]
    public void A_volume_that_cannot_be_set_up_gives_kubelets_FailedMount_message()
    {
        Assert.Equal("MountVolume.SetUp failed for volume \"cfg\" : configmap \"missing\" not found",
            PrepareError(new V1Volume { Name = "cfg", ConfigMap = new V1ConfigMapVolumeSource { Name = "missing" } }));
        Assert.Equal("MountVolume.SetUp failed for volume \"sec\" : secret \"gone\" not found",
            PrepareError(new V1Volume { Name = "sec", Secret = new V1SecretVolumeSource { SecretName = "gone" } }));
        var absent = Path.Combine(_root, "absent");
        Assert.Equal($"MountVolume.SetUp failed for volume \"data\" : hostPath type check failed: {absent} is not a directory",
            PrepareError(new V1Volume { Name = "data", HostPath = new V1HostPathVolumeSource { Path = absent, Type = "Directory" } }));
        Assert.Equal("MountVolume.SetUp failed : disk full", VolumeSetUpErrors.FailedMountMessage("disk full"));
    }

    [Fact]
    public async Task A_FailedMount_repeated_at_every_sync_is_one_Event_whose_count_grows()
    {
        var pod = ToPod(CreatePod(_server, "web"));
        var (client, identity) = TestApiClients.ForNode(_server, "node-a");
        await using var recorder = new EventRecorder(client, identity, "node-a");
        var message = VolumeSetUpErrors.FailedMountMessage("volume \"cfg\": configmap \"missing\" not found");
        for (var i = 0; i < 5; i++) recorder.Event(EventReferences.ForPod(pod), EventTypes.Warning, EventReasons.FailedMount, message);
        await recorder.FlushAsync(CancellationToken.None);

        var e = Assert.Single(_server.Store.List("events", "default"));
        Assert.Equal(("Warning", "FailedMount", message, 5), ((string?)e["type"], (string?)e["reason"], (string?)e["message"], (int?)e["count"]));
        Assert.Null(e["involvedObject"]!["fieldPath"]);
        Assert.Equal(1, _server.RequestLog.Count("create", "events"));
        Assert.Equal(4, _server.RequestLog.Count("patch", "events"));
    }
}
