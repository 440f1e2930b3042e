using k8s.Models;
using KubeletPS.Core.Pods.Events;
using KubeletPS.Core.Pods.Objects;
using KubeletPS.Core.Pods.Volumes;
using KubeletPS.Core.Runtime;

namespace KubeletPS.Core.Pods.Images;

/// <summary>
/// The registry credentials for a pod's image, as kubelet assembles them: the pod's imagePullSecrets
/// (pkg/credentialprovider/secrets MakeDockerKeyring: key .dockerconfigjson read as config.json, key .dockercfg
/// as the legacy format) first, then the node's docker config file (config.go's search paths under the root
/// directory, read again every 5 minutes as kubelet's CachingDockerConfigProvider), each matched by the keyring.
/// A secret that cannot be read is reported (FailedToRetrieveImagePullSecret) and the pull goes on without it;
/// a secret that cannot be parsed fails the pull with a message naming the secret and key.
/// </summary>
public sealed class ImagePullCredentials(IPodConfigObjects? objects, string? rootDirectory, IKubeletLog log, TimeProvider? time = null)
{
    /// <summary>kubelet's CachingDockerConfigProvider lifetime for the node's file.</summary>
    public static readonly TimeSpan NodeConfigLifetime = TimeSpan.FromMinutes(5);

    public const string DockerConfigJsonKey = ".dockerconfigjson";
    public const string DockercfgKey = ".dockercfg";
    public const string FailedToRetrieveImagePullSecret = "FailedToRetrieveImagePullSecret";

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly object _lock = new();
    private (IReadOnlyDictionary<string, DockerConfigEntry>? Config, DateTimeOffset ReadAt)? _node;

    /// <summary>Where FailedToRetrieveImagePullSecret goes.</summary>
    public IEventRecorder Events { get; set; } = NullEventRecorder.Instance;

    /// <summary>The credentials to try for <paramref name="image"/>, in order; empty to pull anonymously.</summary>
    /// <exception cref="DockerConfigException">An imagePullSecret holds a config that cannot be parsed.</exception>
    public IReadOnlyList<RegistryAuth> For(V1Pod pod, string image)
    {
        var repository = ImageReference.Repository(image);
        var found = new List<DockerConfigEntry>();
        var secrets = PodSecretsKeyring(pod);
        if (secrets is not null) found.AddRange(secrets.Lookup(repository));
        if (NodeConfig() is { } node)
        {
            var keyring = new DockerKeyring();
            keyring.Add(node);
            found.AddRange(keyring.Lookup(repository));
        }
        return found.Select(e => new RegistryAuth(e.Username, e.Password)).ToList();
    }

    private DockerKeyring? PodSecretsKeyring(V1Pod pod)
    {
        var names = (pod.Spec?.ImagePullSecrets ?? []).Select(s => s.Name).Where(n => !string.IsNullOrEmpty(n)).ToList();
        if (names.Count == 0) return null;
        var ns = pod.Namespace() ?? "default";
        var configs = new List<IReadOnlyDictionary<string, DockerConfigEntry>>();
        var failed = new List<string>();
        foreach (var name in names)
        {
            IReadOnlyDictionary<string, byte[]>? data = null;
            try
            {
                data = objects?.GetSecret(ns, name);
            }
            catch (Exception e) when (e is ContainerConfigException or KubeletException or HttpRequestException)
            {
                log.Warning($"pod {pod.Name()}: unable to retrieve pull secret {ns}/{name}, the image pull may not succeed: {e.Message}");
            }
            if (data is null)
            {
                failed.Add($"{ns}/{name}");
                continue;
            }
            // kubernetes.io/dockerconfigjson carries .dockerconfigjson, kubernetes.io/dockercfg .dockercfg.
            if (data.TryGetValue(DockerConfigJsonKey, out var json) && json.Length > 0)
                configs.Add(DockerConfigFile.ParseConfigJson(json, $"secret {ns}/{name} key {DockerConfigJsonKey}"));
            else if (data.TryGetValue(DockercfgKey, out var cfg) && cfg.Length > 0)
                configs.Add(DockerConfigFile.ParseDockercfg(cfg, $"secret {ns}/{name} key {DockercfgKey}"));
        }
        if (failed.Count > 0)
        {
            Events.Event(EventReferences.ForPod(pod), EventTypes.Warning, FailedToRetrieveImagePullSecret,
                $"Unable to retrieve some image pull secrets ({string.Join(", ", failed)}); attempting to pull the image may not succeed.");
        }
        if (configs.Count == 0) return null;
        var keyring = new DockerKeyring();
        foreach (var config in configs) keyring.Add(config);
        return keyring;
    }

    private IReadOnlyDictionary<string, DockerConfigEntry>? NodeConfig()
    {
        if (rootDirectory is null) return null;
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            if (_node is { } cached && now - cached.ReadAt < NodeConfigLifetime) return cached.Config;
            var config = DockerConfigFile.ReadNodeConfig(rootDirectory, skipped => log.Warning($"node docker config skipped: {skipped}"));
            _node = (config, now);
            return config;
        }
    }
}
