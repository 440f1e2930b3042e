using System.Text;
using k8s.Models;
using KubeletPS.Core.Pods.Images;
using KubeletPS.Core.Pods.Objects;
using KubeletPS.Core.Pods.Token;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Runtime;
using KubeletPS.Core.Tests.Support.Fakes;
using Microsoft.Extensions.Time.Testing;

namespace KubeletPS.Core.Tests.Pods.Images;

/// <summary>
/// The pull path of the image manager: imagePullSecrets and the node's config.json reach CRI's AuthConfig as the
/// keyring matches them; kubelet's events and waiting reasons; malformed secrets and refused credentials written as attacks.
/// </summary>
public sealed class ImageManagerCredentialTests : IDisposable
{
    private const string Image = "127.0.0.1:5000/test/busybox:v1";
    private const string Password = "pw-Zq81-never-logged";

    private readonly string _root = Directory.CreateTempSubdirectory("kubeletps-pullcreds-").FullName;
    private readonly FakeImageService _images = new();
    private readonly RecordingLog _log = new();
    private readonly RecordingEvents _events = new();
    private readonly Secrets _secrets = new();
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private sealed class Secrets : IPodConfigObjects
    {
        public Dictionary<string, IReadOnlyDictionary<string, byte[]>> Data { get; } = [];
        public List<string> Read { get; } = [];
        public IReadOnlyDictionary<string, byte[]>? GetConfigMap(string ns, string name) => null;
        public IReadOnlyDictionary<string, byte[]>? GetSecret(string ns, string name)
        {
            Read.Add($"{ns}/{name}");
            return Data.GetValueOrDefault($"{ns}/{name}");
        }
        public ServiceAccountToken CreateServiceAccountToken(ServiceAccountTokenRequest request) => throw new ContainerConfigException("no tokens here");
    }

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static byte[] ConfigJson(string registry, string user, string password) =>
        Encoding.UTF8.GetBytes("""{"auths":{"@0@":{"auth":"@1@"}}}""".Replace("@0@", registry, StringComparison.Ordinal).Replace("@1@", Base64(user + ":" + password), StringComparison.Ordinal));

    private ImageManager Manager() =>
        new(_images, _log, time: _clock, puller: new ImagePuller(_images, serialize: true, time: _clock),
            credentials: new ImagePullCredentials(_secrets, _root, _log, _clock) { Events = _events }) { Events = _events };

    private static V1Pod Pod(params string[] pullSecrets) => new()
    {
        Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "default", Uid = Guid.NewGuid().ToString() },
        Spec = new V1PodSpec
        {
            Containers = [new V1Container { Name = "app", Image = Image, ImagePullPolicy = "Always" }],
            ImagePullSecrets = pullSecrets.Select(s => new V1LocalObjectReference { Name = s }).ToList(),
        },
    };

    private static PodSandboxSpec Sandbox(V1Pod pod) => new() { Name = pod.Metadata.Name, Namespace = "default", Uid = pod.Metadata.Uid };

    private static Task<(string Id, ImageInfo? Image)> EnsureAsync(ImageManager manager, V1Pod pod) =>
        manager.EnsureImageStatusAsync(pod, pod.Spec.Containers[0], Sandbox(pod), CancellationToken.None);

    [Fact]
    public async Task A_dockerconfigjson_pull_secret_reaches_the_runtime_as_AuthConfig_and_Pulled_carries_the_size()
    {
        _secrets.Data["default/regcred"] = new Dictionary<string, byte[]> { [".dockerconfigjson"] = ConfigJson("127.0.0.1:5000", "alice", Password) };
        _images.AddImage(Image, size: 4321);
        await EnsureAsync(Manager(), Pod("regcred"));
        var auth = Assert.Single(_images.PullAuths);
        Assert.Equal(("alice", Password), (auth!.Username, auth.Password));
        Assert.Equal($"Pulling image \"{Image}\"", Assert.Single(_events.WithReason("Pulling")).Message);
        Assert.Equal($"Successfully pulled image \"{Image}\" in 0s (0s including waiting). Image size: 4321 bytes.", Assert.Single(_events.WithReason("Pulled")).Message);
    }

    [Fact]
    public async Task A_dockercfg_pull_secret_works_and_a_secret_for_another_registry_is_not_sent()
    {
        _secrets.Data["default/legacy"] = new Dictionary<string, byte[]> { [".dockercfg"] = Encoding.UTF8.GetBytes("""{"https://127.0.0.1:5000":{"auth":"@0@"}}""".Replace("@0@", Base64("bob:" + Password), StringComparison.Ordinal)) };
        _secrets.Data["default/other"] = new Dictionary<string, byte[]> { [".dockerconfigjson"] = ConfigJson("quay.io", "carol", "x") };
        await EnsureAsync(Manager(), Pod("other", "legacy"));
        Assert.Equal(["bob"], _images.PullAuths.Select(a => a?.Username));
    }

    [Fact]
    public async Task The_nodes_config_json_under_the_root_directory_serves_pods_without_secrets_after_the_pods_own()
    {
        File.WriteAllBytes(Path.Combine(_root, "config.json"), ConfigJson("127.0.0.1:5000", "node", "n"));
        await EnsureAsync(Manager(), Pod());
        Assert.Equal(["node"], _images.PullAuths.Select(a => a?.Username));

        _secrets.Data["default/regcred"] = new Dictionary<string, byte[]> { [".dockerconfigjson"] = ConfigJson("127.0.0.1:5000", "pod", "p") };
        _images.PullFailure = (_, auth) => auth?.Username == "pod" ? FakeCriCalls.Error("PullImage", RuntimeErrorKind.RuntimeError, "401 Unauthorized") : null;
        await EnsureAsync(Manager(), Pod("regcred"));
        Assert.Equal(["node", "pod", "node"], _images.PullAuths.Select(a => a?.Username));
    }

    [Fact]
    public async Task A_missing_secret_is_reported_and_the_image_is_pulled_anonymously()
    {
        await EnsureAsync(Manager(), Pod("gone"));
        Assert.Equal([null], _images.PullAuths);
        Assert.Equal("Unable to retrieve some image pull secrets (default/gone); attempting to pull the image may not succeed.",
            Assert.Single(_events.WithReason("FailedToRetrieveImagePullSecret")).Message);
    }

    [Theory]
    [InlineData(".dockerconfigjson", """{"auths":{"127.0.0.1:5000":{"auth":"***"}}}""", "secret default/bad key .dockerconfigjson: auths.127.0.0.1:5000.auth is not valid base64.")]
    [InlineData(".dockerconfigjson", """{"auths":{""", "secret default/bad key .dockerconfigjson: not valid JSON (line 1, byte 10).")]
    [InlineData(".dockercfg", """["x"]""", "secret default/bad key .dockercfg: the docker config is not a JSON object of registries.")]
    public async Task A_malformed_secret_fails_the_pull_with_ErrImagePull_naming_the_secret_and_key(string key, string content, string detail)
    {
        _secrets.Data["default/bad"] = new Dictionary<string, byte[]> { [key] = Encoding.UTF8.GetBytes(content) };
        var manager = Manager();
        var pod = Pod("bad");
        var e = await Assert.ThrowsAsync<ImagePullException>(() => EnsureAsync(manager, pod));
        Assert.Equal(("ErrImagePull", $"Failed to pull image \"{Image}\": {detail}"), (e.Reason, e.Message));
        Assert.Equal(e.Message, Assert.Single(_events.WithReason("Failed")).Message);
        Assert.Empty(_images.Pulled);

        // The worker's next sync is in the back-off, which carries the error.
        var backOff = await Assert.ThrowsAsync<ImagePullException>(() => EnsureAsync(manager, pod));
        Assert.Equal(("ImagePullBackOff", $"Back-off pulling image \"{Image}\": ErrImagePull: {e.Message}"), (backOff.Reason, backOff.Message));
        Assert.Equal($"Back-off pulling image \"{Image}\"", Assert.Single(_events.WithReason("BackOff")).Message);
    }

    [Fact]
    public async Task A_refused_pull_with_a_secret_leaves_the_password_and_its_base64_in_no_log_event_or_error()
    {
        var auth = Base64("alice:" + Password);
        _secrets.Data["default/regcred"] = new Dictionary<string, byte[]> { [".dockerconfigjson"] = ConfigJson("127.0.0.1:5000", "alice", Password) };
        File.WriteAllBytes(Path.Combine(_root, "config.json"), Encoding.UTF8.GetBytes("""{"auths":{"127.0.0.1:5000":{"auth":"@0@","password":"@1@"}}""".Replace("@0@", auth, StringComparison.Ordinal).Replace("@1@", Password, StringComparison.Ordinal)));
        _images.PullFailure = (_, a) => FakeCriCalls.Error("PullImage", RuntimeErrorKind.RuntimeError,
            $"failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized ({a})");
        var manager = Manager();
        var e = await Assert.ThrowsAsync<ImagePullException>(() => EnsureAsync(manager, Pod("regcred")));
        var everything = string.Join("\n", _log.Lines.Select(l => l.Message).Concat(_events.Recorded.Select(r => r.Message))
            .Append(e.ToString()).Append(string.Join(",", _images.PullAuths)));
        Assert.Contains("401 Unauthorized", everything, StringComparison.Ordinal);
        Assert.Contains("alice", everything, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, everything, StringComparison.Ordinal);
        Assert.DoesNotContain(auth, everything, StringComparison.Ordinal);
        Assert.DoesNotContain(auth.TrimEnd('='), everything, StringComparison.Ordinal);
    }
}
