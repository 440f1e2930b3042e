using k8s;
using k8s.Models;
using KubeletPS.Core.Pods.Config;
using KubeletPS.Core.Pods.KubeRuntime;
using KubeletPS.Core.Pods.Network;
using KubeletPS.Core.Pods.Objects;
using KubeletPS.Core.Pods.Token;
using KubeletPS.Core.Pods.Volumes;
using Microsoft.Extensions.Time.Testing;

namespace KubeletPS.Core.Tests.Pods.Volumes;

/// <summary>
/// Projected and downwardAPI volumes and the service account token manager, without a runtime:
/// API objects from a fake, tokens on a fake clock.
/// </summary>
public sealed class PodVolumesTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kubeletps-volumes-").FullName;
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2025-01-01T00:00:00Z"));
    private readonly FakeObjects _objects;

    public PodVolumesTests() => _objects = new FakeObjects(_clock);

    // Projected volumes are tmpfs mounts under the root: unmounted before the directory goes.
    public void Dispose() => HostMounts.RemoveDirectory(_root);

    /// <summary>What the API server's ServiceAccount admission adds to every pod.</summary>
    private const string KubeApiAccess = """
        {"name":"kube-api-access-x7k2p","projected":{"defaultMode":420,"sources":[
          {"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},
          {"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},
          {"downwardAPI":{"items":[{"path":"namespace","fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"}}]}}]}}
        """;

    private static V1Pod Pod(string volumes, string annotations = "{}", string serviceAccount = "") => KubernetesJson.Deserialize<V1Pod>("""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop","uid":"uid-1","labels":{"app":"web"},"annotations":ANNOTATIONS},
         "spec":{"serviceAccountName":"SERVICEACCOUNT","containers":[{"name":"main","image":"busybox",
           "resources":{"requests":{"cpu":"250m","memory":"64Mi"},"limits":{"memory":"128Mi"}}}],
         "volumes":[VOLUMES]}}
        """.Replace("ANNOTATIONS", annotations).Replace("SERVICEACCOUNT", serviceAccount).Replace("VOLUMES", volumes));

    private PodVolumes Volumes(ServiceAccountTokenManager? tokens = null) =>
        new(_root, _objects, tokens ?? NewTokenManager())
        {
            NodeAllocatable = () => new Dictionary<string, ResourceQuantity> { ["cpu"] = new("4"), ["memory"] = new("8Gi"), ["ephemeral-storage"] = new("100Gi") },
        };

    private ServiceAccountTokenManager NewTokenManager() => new(_objects.CreateServiceAccountToken, _clock) { Jitter = () => TimeSpan.Zero };

    private static string Read(string dir, string file) => File.ReadAllText(Path.Combine(dir, file));

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void An_fsGroup_emptyDir_keeps_its_setgid_bit_when_the_pod_is_synced_again()
    {
        // Each sync prepares the volumes again; a chmod 0777 there cleared the setgid bit that
        // fsGroup ownership sets once, so files made later lost the pod's group.
        var pod = Pod("""{"name":"work","emptyDir":{}}""");
        pod.Spec.SecurityContext = new V1PodSecurityContext { FsGroup = 2000 };
        var volumes = Volumes();
        var dir = volumes.Prepare(pod)["work"];
        Assert.True(File.GetUnixFileMode(dir).HasFlag(UnixFileMode.SetGroup));

        volumes.Prepare(pod);

        var mode = File.GetUnixFileMode(dir);
        Assert.True(mode.HasFlag(UnixFileMode.SetGroup), $"mode {mode}");
        Assert.Equal((UnixFileMode)0x1FF, mode & (UnixFileMode)0x1FF);
    }

    [Fact]
    public void The_kube_api_access_volume_holds_a_bound_token_the_root_CA_and_the_namespace()
    {
        _objects.ConfigMaps["shop/kube-root-ca.crt"] = new() { ["ca.crt"] = "CA PEM"u8.ToArray() };
        var dir = Volumes().Prepare(Pod(KubeApiAccess))["kube-api-access-x7k2p"];

        Assert.Equal(Path.Combine(_root, "pods", "uid-1", "volumes", "kubernetes.io~projected", "kube-api-access-x7k2p"), dir);
        Assert.Equal("token-1", Read(dir, "token"));
        Assert.Equal("CA PEM", Read(dir, "ca.crt"));
        Assert.Equal("shop", Read(dir, "namespace"));
        var request = Assert.Single(_objects.TokenRequests);
        Assert.Equal(("shop", "default", 3607L, "web", "uid-1"), (request.Namespace, request.ServiceAccountName, request.ExpirationSeconds, request.PodName, request.PodUid));
        Assert.Empty(request.Audiences);
        if (!OperatingSystem.IsWindows())
        {
            foreach (var file in Directory.GetFiles(dir)) Assert.Equal((UnixFileMode)420, File.GetUnixFileMode(file));
        }
    }

    [Fact]
    public void Projected_sources_take_the_volume_defaultMode_unless_an_item_sets_its_own_and_keep_their_paths()
    {
        _objects.ConfigMaps["shop/app"] = new() { ["greeting"] = "hello"u8.ToArray() };
        _objects.Secrets["shop/creds"] = new() { ["password"] = "s3cret"u8.ToArray(), ["user"] = "admin"u8.ToArray() };
        var dir = Volumes().Prepare(Pod("""
            {"name":"all","projected":{"defaultMode":288,"sources":[
              {"configMap":{"name":"app","items":[{"key":"greeting","path":"config/greeting.txt","mode":511}]}},
              {"secret":{"name":"creds"}},
              {"serviceAccountToken":{"audience":"vault","expirationSeconds":7200,"path":"tokens/vault"}},
              {"downwardAPI":{"items":[{"path":"labels","fieldRef":{"fieldPath":"metadata.labels"}},{"path":"app","fieldRef":{"fieldPath":"metadata.labels['app']"}}]}}]}}
            """, serviceAccount: "builder"))["all"];

        Assert.Equal("hello", Read(dir, "config/greeting.txt"));
        Assert.Equal("s3cret", Read(dir, "password"));
        Assert.Equal("admin", Read(dir, "user"));
        Assert.Equal("token-1", Read(dir, "tokens/vault"));
        Assert.Equal("app=\"web\"", Read(dir, "labels"));
        Assert.Equal("web", Read(dir, "app"));
        var request = Assert.Single(_objects.TokenRequests);
        Assert.Equal("builder", request.ServiceAccountName);
        Assert.Equal(["vault"], request.Audiences);
        Assert.Equal(7200, request.ExpirationSeconds);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal((UnixFileMode)511, File.GetUnixFileMode(Path.Combine(dir, "config/greeting.txt")));
            Assert.Equal((UnixFileMode)288, File.GetUnixFileMode(Path.Combine(dir, "password")));
            Assert.Equal((UnixFileMode)288, File.GetUnixFileMode(Path.Combine(dir, "tokens/vault")));
        }
    }

    [Fact]
    public void ResourceFieldRef_items_give_requests_and_limits_in_divisor_units_and_node_allocatable_for_an_unset_limit()
    {
        var items = """
            {"path":"cpu_request","resourceFieldRef":{"containerName":"main","resource":"requests.cpu","divisor":"1m"}},
            {"path":"cpu_request_cores","resourceFieldRef":{"containerName":"main","resource":"requests.cpu"}},
            {"path":"cpu_limit","resourceFieldRef":{"containerName":"main","resource":"limits.cpu"}},
            {"path":"mem_request","resourceFieldRef":{"containerName":"main","resource":"requests.memory","divisor":"1Mi"}},
            {"path":"mem_limit","resourceFieldRef":{"containerName":"main","resource":"limits.memory"}},
            {"path":"storage_limit","resourceFieldRef":{"containerName":"main","resource":"limits.ephemeral-storage","divisor":"1Gi"}},
            {"path":"storage_request","resourceFieldRef":{"containerName":"main","resource":"requests.ephemeral-storage"}}
            """;
        var volumes = Volumes();
        var plain = volumes.Prepare(Pod("""{"name":"info","downwardAPI":{"items":[ITEMS]}}""".Replace("ITEMS", items)))["info"];
        var projected = volumes.Prepare(Pod("""{"name":"info","projected":{"sources":[{"downwardAPI":{"items":[ITEMS]}}]}}""".Replace("ITEMS", items)))["info"];

        foreach (var dir in new[] { plain, projected })
        {
            Assert.Equal("250", Read(dir, "cpu_request"));
            Assert.Equal("1", Read(dir, "cpu_request_cores")); // 250m rounds up to one core
            Assert.Equal("4", Read(dir, "cpu_limit")); // no limit: the node's allocatable
            Assert.Equal("64", Read(dir, "mem_request"));
            Assert.Equal((128L * 1024 * 1024).ToString(), Read(dir, "mem_limit"));
            Assert.Equal("100", Read(dir, "storage_limit"));
            Assert.Equal("0", Read(dir, "storage_request"));
        }
    }

    [Fact]
    public void Env_resourceFieldRef_uses_the_same_rules()
    {
        var specs = new PodRuntimeSpecs(_root, _root, new PodDns([], "", null, NullKubeletLog.Instance), null)
        {
            NodeAllocatable = () => new Dictionary<string, ResourceQuantity> { ["cpu"] = new("4") },
        };
        var pod = Pod("""{"name":"e","emptyDir":{}}""");
        pod.Spec.Containers[0].Env =
        [
            new V1EnvVar { Name = "CPU_LIMIT", ValueFrom = new V1EnvVarSource { ResourceFieldRef = new V1ResourceFieldSelector { Resource = "limits.cpu" } } },
            new V1EnvVar { Name = "MEM_REQUEST", ValueFrom = new V1EnvVarSource { ResourceFieldRef = new V1ResourceFieldSelector { Resource = "requests.memory", Divisor = new ResourceQuantity("1Mi") } } },
        ];
        var env = specs.BuildEnv(pod, pod.Spec.Containers[0], null).ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal("4", env["CPU_LIMIT"]);
        Assert.Equal("64", env["MEM_REQUEST"]);
    }

    [Fact]
    public void A_static_pod_may_not_take_env_from_API_objects_and_an_API_pod_may()
    {
        _objects.ConfigMaps["shop/app"] = new() { ["greeting"] = "hello"u8.ToArray() };
        var specs = new PodRuntimeSpecs(_root, _root, new PodDns([], "", null, NullKubeletLog.Instance), null) { Objects = _objects };
        var pod = Pod("""{"name":"e","emptyDir":{}}""");
        pod.Spec.Containers[0].Env = [new V1EnvVar { Name = "GREETING", ValueFrom = new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = "app", Key = "greeting" } } }];
        Assert.Equal("hello", specs.BuildEnv(pod, pod.Spec.Containers[0], null).Single(p => p.Key == "GREETING").Value);

        pod.Metadata.Annotations = new Dictionary<string, string> { [PodAnnotations.ConfigSource] = "file" };
        var e = Assert.Throws<ContainerConfigException>(() => specs.BuildEnv(pod, pod.Spec.Containers[0], null));
        Assert.Contains("env GREETING comes from configMap \"app\" key \"greeting\": a static pod may not refer to API objects", e.Message);
    }

    [Fact]
    public void A_token_is_reused_until_80_percent_of_its_lifetime_then_refreshed_and_rewritten()
    {
        _objects.ConfigMaps["shop/kube-root-ca.crt"] = new() { ["ca.crt"] = "CA PEM"u8.ToArray() };
        var tokens = NewTokenManager();
        var volumes = Volumes(tokens);
        var pod = Pod(KubeApiAccess);
        var dir = volumes.Prepare(pod)["kube-api-access-x7k2p"];
        Assert.Equal("token-1", Read(dir, "token"));

        _clock.Advance(TimeSpan.FromSeconds(3607 * 0.8 - 1));
        volumes.Prepare(pod);
        Assert.Equal("token-1", Read(dir, "token"));
        Assert.Single(_objects.TokenRequests);

        _clock.Advance(TimeSpan.FromSeconds(2));
        volumes.Prepare(pod);
        Assert.Equal("token-2", Read(dir, "token"));
        Assert.Equal(2, _objects.TokenRequests.Count);
        Assert.Equal(1, tokens.Count);
    }

    [Fact]
    public void A_long_lived_token_is_refreshed_after_24_hours_and_a_failed_refresh_keeps_the_old_token_until_it_expires()
    {
        var tokens = NewTokenManager();
        var request = new ServiceAccountTokenRequest("shop", "default", [], 7 * 24 * 3600, "web", "uid-1");
        Assert.Equal("token-1", tokens.GetServiceAccountToken(request).Token);
        _clock.Advance(TimeSpan.FromHours(24) + TimeSpan.FromSeconds(1));
        Assert.Equal("token-2", tokens.GetServiceAccountToken(request).Token);

        _objects.ServiceAccounts.Clear();
        _clock.Advance(TimeSpan.FromHours(25));
        Assert.Equal("token-2", tokens.GetServiceAccountToken(request).Token);
        _clock.Advance(TimeSpan.FromDays(7));
        var e = Assert.Throws<ContainerConfigException>(() => tokens.GetServiceAccountToken(request));
        Assert.Contains("expired and refresh failed", e.Message);
        Assert.DoesNotContain("token-2", e.Message);
    }

    [Fact]
    public void Removing_a_pod_drops_its_cached_tokens_only()
    {
        var tokens = NewTokenManager();
        tokens.GetServiceAccountToken(new ServiceAccountTokenRequest("shop", "default", [], 3600, "web", "uid-1"));
        tokens.GetServiceAccountToken(new ServiceAccountTokenRequest("shop", "default", ["vault"], 3600, "web", "uid-1"));
        tokens.GetServiceAccountToken(new ServiceAccountTokenRequest("shop", "default", [], 3600, "api", "uid-2"));
        Assert.Equal(3, tokens.Count);

        var volumes = Volumes(tokens);
        volumes.ForgetPod("uid-1");
        Assert.Equal(1, tokens.Count);
        // The next token for the remaining pod still comes from the cache.
        tokens.GetServiceAccountToken(new ServiceAccountTokenRequest("shop", "default", [], 3600, "api", "uid-2"));
        Assert.Equal(3, _objects.TokenRequests.Count);
    }

    [Fact]
    public void A_missing_service_account_or_configmap_names_the_volume_and_the_object_and_never_the_token()
    {
        _objects.ServiceAccounts.Remove("shop/default");
        var e = Assert.Throws<ContainerConfigException>(() => Volumes().Prepare(Pod(KubeApiAccess)));
        Assert.Contains("volume \"kube-api-access-x7k2p\"", e.Message);
        Assert.Contains("serviceaccount \"default\"", e.Message);
        Assert.Contains("serviceaccounts \"default\" not found", e.Message);
        Assert.Contains("configmap \"kube-root-ca.crt\" not found", e.Message);
    }

    [Fact]
    public void Short_token_lifetimes_and_clusterTrustBundle_sources_are_refused_with_a_reason()
    {
        var e = Assert.Throws<ContainerConfigException>(() => Volumes().Prepare(Pod("""{"name":"t","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":300,"path":"token"}}]}}""")));
        Assert.Contains("expirationSeconds 300 is less than 10 minutes", e.Message);
        e = Assert.Throws<ContainerConfigException>(() => Volumes().Prepare(Pod("""{"name":"b","projected":{"sources":[{"clusterTrustBundle":{"signerName":"example.com/signer","path":"ca.pem"}}]}}""")));
        Assert.Contains("clusterTrustBundle sources (example.com/signer) are not supported", e.Message);
        Assert.Empty(_objects.TokenRequests);
    }

    [Fact]
    public void A_static_pod_may_not_have_a_service_account_token_and_a_standalone_kubelet_cannot_fill_one()
    {
        const string volume = """{"name":"t","projected":{"sources":[{"serviceAccountToken":{"path":"token"}}]}}""";
        var e = Assert.Throws<ContainerConfigException>(() => Volumes().Prepare(Pod(volume, """{"kubernetes.io/config.source":"file"}""")));
        Assert.Contains("volume \"t\": serviceAccountToken of serviceaccount \"default\": a static pod may not refer to API objects", e.Message);
        Assert.Empty(_objects.TokenRequests);

        e = Assert.Throws<ContainerConfigException>(() => new PodVolumes(_root).Prepare(Pod(volume)));
        Assert.Contains("needs the API server; a standalone kubelet cannot fill it", e.Message);
    }

    /// <summary>Configmaps, secrets and a TokenRequest endpoint that issues token-1, token-2… for existing service accounts.</summary>
    private sealed class FakeObjects(TimeProvider clock) : IPodConfigObjects
    {
        public Dictionary<string, Dictionary<string, byte[]>> ConfigMaps { get; } = [];
        public Dictionary<string, Dictionary<string, byte[]>> Secrets { get; } = [];
        public HashSet<string> ServiceAccounts { get; } = ["shop/default", "shop/builder"];
        public List<ServiceAccountTokenRequest> TokenRequests { get; } = [];

        public IReadOnlyDictionary<string, byte[]>? GetConfigMap(string ns, string name) => ConfigMaps.GetValueOrDefault($"{ns}/{name}");

        public IReadOnlyDictionary<string, byte[]>? GetSecret(string ns, string name) => Secrets.GetValueOrDefault($"{ns}/{name}");

        public ServiceAccountToken CreateServiceAccountToken(ServiceAccountTokenRequest request)
        {
            if (!ServiceAccounts.Contains($"{request.Namespace}/{request.ServiceAccountName}"))
                throw new ContainerConfigException($"create serviceaccounts/token failed (404 NotFound): serviceaccounts \"{request.ServiceAccountName}\" not found");
            TokenRequests.Add(request);
            return new ServiceAccountToken($"token-{TokenRequests.Count}", clock.GetUtcNow().AddSeconds(request.ExpirationSeconds), request.ExpirationSeconds);
        }
    }
}
