using System.Text;
using System.Text.Json.Nodes;
using KubeletPS.Core.Tests.Support;
using KubeletPS.TestCluster.Runtime;

namespace KubeletPS.Core.Tests.Agent;

/// <summary>
/// A private authenticated registry (docker-registry with htpasswd over TLS from a test CA) holding the test busybox,
/// pushed with skopeo, and a private containerd configured to trust it.
/// </summary>
public sealed class RegistryPullFixture : IAsyncLifetime
{
    public const string Repository = "test/busybox:latest";
    public const string User = "puller";

    /// <summary>Generated per run: no secret in the source.</summary>
    public string Password { get; } = "pw-" + Guid.NewGuid().ToString("N");

    public PrivateRegistry Registry { get; private set; } = null!;
    public PrivateContainerd Containerd { get; private set; } = null!;
    private string _dir = null!;

    public string Image => $"{Registry.Host}/{Repository}";

    public async Task InitializeAsync()
    {
        _dir = Path.Combine("/tmp", "kpr-" + Guid.NewGuid().ToString("N")[..8]);
        Registry = await PrivateRegistry.StartAsync(Path.Combine(_dir, "registry"), User, Password);
        await Registry.PushAsync(await OciImageBuilder.GetOrBuildAsync(), OciImageBuilder.BusyboxImage, Repository);
        Containerd = await PrivateContainerd.StartAsync(Path.Combine(_dir, "containerd"), new PrivateContainerdOptions
        {
            DeleteBaseDirectoryOnDispose = true,
            RegistryConfigPath = Registry.WriteContainerdHostsDirectory(Path.Combine(_dir, "hosts")),
        });
    }

    public async Task DisposeAsync()
    {
        await Containerd.DisposeAsync();
        await Registry.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class RegistryPullCollection : ICollectionFixture<RegistryPullFixture>
{
    public const string Name = "Full agent pulling from a private registry";
}

/// <summary>The agent pulls from the authenticated registry with a pod's imagePullSecret (both types) or the node's config.json, and fails clearly without.</summary>
[Collection(RegistryPullCollection.Name)]
public sealed class RegistryPullTests(RegistryPullFixture fixture) : IAsyncLifetime
{
    private const string Node = "registry-node";
    private ApiAgentHarness _h = null!;

    public async Task InitializeAsync() => _h = await ApiAgentHarness.StartAsync(Node, "kubeletps-registry-agent-");

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private string Root => _h.Root;

    private async Task RunAgentAsync(Func<Task> body)
    {
        await _h.RunAgentAsync(fixture.Containerd, body, waitForNode: false);
        // The password reaches no line of the agent's log, in clear or base64.
        var log = string.Join("\n", _h.Log.Lines);
        Assert.DoesNotContain(fixture.Password, log, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes($"{RegistryPullFixture.User}:{fixture.Password}")).TrimEnd('='), log, StringComparison.Ordinal);
    }

    private JsonObject Pod(string name, string? secret = null)
    {
        var pod = JsonNode.Parse("""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME","namespace":"default"},
             "spec":{"nodeName":"NODE","terminationGracePeriodSeconds":2,"restartPolicy":"Always","containers":[{"name":"main","image":"IMAGE",
               "imagePullPolicy":"Always","command":["sh","-c","trap 'exit 0' TERM; while true; do sleep 1; done"]}]}}
            """.Replace("NAME", name).Replace("NODE", Node).Replace("IMAGE", fixture.Image))!.AsObject();
        if (secret is not null) pod["spec"]!["imagePullSecrets"] = new JsonArray(new JsonObject { ["name"] = secret });
        return pod;
    }

    private void CreateSecret(string name, string type, string key, string content) => _h.Server.Store.Create("secrets", new JsonObject
    {
        ["apiVersion"] = "v1", ["kind"] = "Secret", ["type"] = type,
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default" },
        ["data"] = new JsonObject { [key] = Convert.ToBase64String(Encoding.UTF8.GetBytes(content)) },
    });

    private string Phase(string name) => (string?)_h.Server.Store.Get("pods", "default", name)?["status"]?["phase"] ?? "";

    private JsonNode? Waiting(string name) => _h.Server.Store.Get("pods", "default", name)?["status"]?["containerStatuses"]?[0]?["state"]?["waiting"];

    private IEnumerable<JsonNode> Events(string pod, string reason) =>
        _h.Server.Store.List("events", "default").Where(e => (string?)e["reason"] == reason && (string?)e["involvedObject"]?["name"] == pod);

    [Fact]
    public async Task Pull_secrets_of_both_types_pull_from_the_authenticated_registry_and_a_pod_without_one_ends_in_ImagePullBackOff()
    {
        CreateSecret("regcred", "kubernetes.io/dockerconfigjson", ".dockerconfigjson", fixture.Registry.DockerConfigJson());
        var legacy = JsonNode.Parse(fixture.Registry.DockerConfigJson())!["auths"]!.ToJsonString();
        CreateSecret("legacy", "kubernetes.io/dockercfg", ".dockercfg", legacy);
        await RunAgentAsync(async () =>
        {
            _h.Server.Store.Create("pods", Pod("with-secret", "regcred"));
            _h.Server.Store.Create("pods", Pod("with-dockercfg", "legacy"));
            _h.Server.Store.Create("pods", Pod("anonymous"));
            await TestApiClients.WaitUntilAsync(() => Phase("with-secret") == "Running" && Phase("with-dockercfg") == "Running", "the pods with secrets are Running", 120);
            var pulled = (string?)Assert.Single(Events("with-secret", "Pulled"))["message"];
            Assert.Matches($"^Successfully pulled image \"{System.Text.RegularExpressions.Regex.Escape(fixture.Image)}\" in [0-9.]+m?s \\([0-9.]+m?s including waiting\\)\\. Image size: [1-9][0-9]* bytes\\.$", pulled);
            Assert.Equal($"Pulling image \"{fixture.Image}\"", (string?)Events("with-secret", "Pulling").First()["message"]);

            await TestApiClients.WaitUntilAsync(() => (string?)Waiting("anonymous")?["reason"] == "ImagePullBackOff", "the pod without a secret backs off", 120);
            var message = (string?)Waiting("anonymous")?["message"];
            Assert.StartsWith($"Back-off pulling image \"{fixture.Image}\": ErrImagePull: Failed to pull image \"{fixture.Image}\": ", message);
            Assert.Contains("401 Unauthorized", message, StringComparison.Ordinal);
            Assert.Contains(Events("anonymous", "Failed"), e => ((string?)e["message"])!.StartsWith($"Failed to pull image \"{fixture.Image}\"", StringComparison.Ordinal));
        });
    }

    [Fact]
    public async Task The_nodes_config_json_in_the_root_directory_serves_a_pod_without_a_secret()
    {
        Directory.CreateDirectory(Root);
        File.WriteAllText(Path.Combine(Root, "config.json"), fixture.Registry.DockerConfigJson());
        await RunAgentAsync(async () =>
        {
            _h.Server.Store.Create("pods", Pod("node-creds"));
            await TestApiClients.WaitUntilAsync(() => Phase("node-creds") == "Running", "the pod is Running", 120);
            Assert.Single(Events("node-creds", "Pulled"));
        });
    }
}
