using System.Text;
using System.Text.Json.Nodes;
using k8s.Models;
using KubeletPS.Core.Pods.Objects;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Server;
using Microsoft.Extensions.Time.Testing;

namespace KubeletPS.Core.Tests.Pods.Objects;

/// <summary>Kubelet's TTL cache for configmaps and secrets, on a fake clock against the test API server.</summary>
public sealed class PodConfigObjectCacheTests : IAsyncLifetime
{
    private TestApiServer _server = null!;
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2025-01-01T00:00:00Z"));
    private V1Node? _node;

    public async Task InitializeAsync()
    {
        _server = await TestApiServer.StartAsync();
        // The Node authorizer lets node-a read a configmap only through a pod bound to it that uses it.
        _server.Store.Create("pods", JsonNode.Parse("""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"binder","namespace":"default"},
             "spec":{"nodeName":"node-a","containers":[{"name":"c","image":"busybox"}],
               "volumes":[VOLUMES]}}
            """.Replace("VOLUMES", string.Join(",", ConfigMapNames.Select(n => "{\"name\":\"" + n + "\",\"configMap\":{\"name\":\"" + n + "\"}}"))))!.AsObject());
    }

    private static readonly string[] ConfigMapNames = ["app", "shared", "later", "new", "old", "never-read", "here"];

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private ApiPodConfigObjects Objects()
    {
        var (client, identity) = TestApiClients.ForNode(_server, "node-a");
        return new ApiPodConfigObjects(client, identity, () => _node, _clock);
    }

    private void CreateConfigMap(string name, string value) =>
        _server.Store.Create("configmaps", new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "ConfigMap",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default" },
            ["data"] = new JsonObject { ["key"] = value },
        });

    private void UpdateConfigMap(string name, string value) => _server.Store.Update("configmaps", "default", name, m => m["data"]!["key"] = value);

    private static V1Pod PodUsing(string uid, params string[] configMaps) => new()
    {
        Metadata = new V1ObjectMeta { Name = "p-" + uid, NamespaceProperty = "default", Uid = uid },
        Spec = new V1PodSpec
        {
            Containers = [new V1Container { Name = "c", Image = "busybox" }],
            Volumes = configMaps.Select(c => new V1Volume { Name = c, ConfigMap = new V1ConfigMapVolumeSource { Name = c } }).ToList(),
        },
    };

    private int Gets(string name) => _server.RequestLog.Entries.Count(e => e.Verb == "get" && e.Resource == "configmaps" && e.Name == name);

    private static string Value(IReadOnlyDictionary<string, byte[]>? data) => data is null ? "(none)" : Encoding.UTF8.GetString(data["key"]);

    [Fact]
    public void A_registered_object_is_read_once_per_TTL_and_an_update_shows_after_it()
    {
        CreateConfigMap("app", "v1");
        var objects = Objects();
        objects.RegisterPod(PodUsing("a", "app"));
        Assert.Equal("v1", Value(objects.GetConfigMap("default", "app")));
        UpdateConfigMap("app", "v2");
        _clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal("v1", Value(objects.GetConfigMap("default", "app")));
        Assert.Equal(1, Gets("app"));

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("v2", Value(objects.GetConfigMap("default", "app")));
        Assert.Equal(2, Gets("app"));
    }

    [Fact]
    public void The_nodes_TTL_annotation_sets_the_TTL_and_zero_reads_every_time()
    {
        CreateConfigMap("app", "v1");
        var objects = Objects();
        objects.RegisterPod(PodUsing("a", "app"));
        _node = new V1Node { Metadata = new V1ObjectMeta { Name = "node-a", Annotations = new Dictionary<string, string> { [ApiPodConfigObjects.TtlAnnotation] = "300" } } };
        Assert.Equal(TimeSpan.FromMinutes(5), objects.Ttl);
        objects.GetConfigMap("default", "app");
        _clock.Advance(TimeSpan.FromMinutes(4));
        objects.GetConfigMap("default", "app");
        Assert.Equal(1, Gets("app"));

        _node.Metadata.Annotations[ApiPodConfigObjects.TtlAnnotation] = "0";
        objects.GetConfigMap("default", "app");
        objects.GetConfigMap("default", "app");
        Assert.Equal(3, Gets("app"));

        _node.Metadata.Annotations[ApiPodConfigObjects.TtlAnnotation] = "not-a-number";
        Assert.Equal(ApiPodConfigObjects.DefaultTtl, objects.Ttl);
    }

    [Fact]
    public void A_missing_object_is_asked_for_at_every_read_so_its_creation_is_seen_at_once()
    {
        var objects = Objects();
        objects.RegisterPod(PodUsing("a", "later"));
        Assert.Null(objects.GetConfigMap("default", "later"));
        Assert.Null(objects.GetConfigMap("default", "later"));
        Assert.Equal(2, Gets("later"));
        CreateConfigMap("later", "here");
        Assert.Equal("here", Value(objects.GetConfigMap("default", "later")));
        Assert.Equal("here", Value(objects.GetConfigMap("default", "later")));
        Assert.Equal(3, Gets("later"));
    }

    [Fact]
    public void Objects_stay_while_a_pod_references_them_and_a_new_pod_reads_afresh()
    {
        CreateConfigMap("shared", "v1");
        var objects = Objects();
        var a = PodUsing("a", "shared");
        objects.RegisterPod(a);
        objects.GetConfigMap("default", "shared");
        // The same pod again (a status change, a resync) keeps the copy.
        objects.RegisterPod(a);
        objects.GetConfigMap("default", "shared");
        Assert.Equal(1, Gets("shared"));

        // A new pod referencing it reads the current object, as kubelet's AddReference does.
        UpdateConfigMap("shared", "v2");
        objects.RegisterPod(PodUsing("b", "shared"));
        Assert.Equal("v2", Value(objects.GetConfigMap("default", "shared")));
        Assert.Equal(2, Gets("shared"));

        objects.UnregisterPod("a");
        Assert.Equal(1, objects.Count);
        objects.GetConfigMap("default", "shared");
        Assert.Equal(2, Gets("shared"));
        objects.UnregisterPod("b");
        Assert.Equal(0, objects.Count);
    }

    [Fact]
    public void A_pod_whose_references_change_releases_the_old_ones()
    {
        CreateConfigMap("old", "v1");
        CreateConfigMap("new", "v1");
        var objects = Objects();
        objects.RegisterPod(PodUsing("a", "old"));
        Assert.Equal(1, objects.Count);
        objects.RegisterPod(PodUsing("a", "new"));
        Assert.Equal(1, objects.Count);
        objects.GetConfigMap("default", "new");
        objects.GetConfigMap("default", "new");
        Assert.Equal(1, Gets("new"));
    }

    [Fact]
    public void When_the_API_server_fails_the_last_copy_is_served_and_without_one_the_error_shows()
    {
        CreateConfigMap("app", "v1");
        var objects = Objects();
        objects.RegisterPod(PodUsing("a", "app", "never-read"));
        objects.GetConfigMap("default", "app");
        _clock.Advance(TimeSpan.FromMinutes(2));
        _server.Faults.FailNext(2, 500, pathContains: "configmaps");
        Assert.Equal("v1", Value(objects.GetConfigMap("default", "app")));
        var e = Assert.Throws<ContainerConfigException>(() => objects.GetConfigMap("default", "never-read"));
        Assert.Contains("cannot read configmaps default/never-read", e.Message);
    }

    [Fact]
    public void A_read_for_no_registered_pod_goes_to_the_API_server_each_time()
    {
        CreateConfigMap("app", "v1");
        var objects = Objects();
        objects.GetConfigMap("default", "app");
        objects.GetConfigMap("default", "app");
        Assert.Equal(2, Gets("app"));
        Assert.Equal(0, objects.Count);
    }

    [Fact]
    public void Every_kind_of_reference_is_registered()
    {
        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "p", NamespaceProperty = "default", Uid = "u" },
            Spec = new V1PodSpec
            {
                ImagePullSecrets = [new V1LocalObjectReference { Name = "pull" }],
                Volumes =
                [
                    new V1Volume { Name = "v1", ConfigMap = new V1ConfigMapVolumeSource { Name = "cm-vol" } },
                    new V1Volume { Name = "v2", Secret = new V1SecretVolumeSource { SecretName = "s-vol" } },
                    new V1Volume { Name = "v3", Projected = new V1ProjectedVolumeSource { Sources = [new V1VolumeProjection { ConfigMap = new V1ConfigMapProjection { Name = "cm-proj" } }, new V1VolumeProjection { Secret = new V1SecretProjection { Name = "s-proj" } }] } },
                ],
                InitContainers = [new V1Container { Name = "i", EnvFrom = [new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "cm-envfrom" } }] }],
                Containers = [new V1Container { Name = "c", Env = [new V1EnvVar { Name = "X", ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = "s-env", Key = "k" } } }] }],
            },
        };
        Assert.Equal(
            ["configmaps/cm-envfrom", "configmaps/cm-proj", "configmaps/cm-vol", "secrets/pull", "secrets/s-env", "secrets/s-proj", "secrets/s-vol"],
            ApiPodConfigObjects.ReferencedObjects(pod).Select(r => $"{r.Resource}/{r.Name}").Order(StringComparer.Ordinal));
    }
}
