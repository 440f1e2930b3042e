using k8s.Models;
using KubeletPS.Core.Pods.Manager;
using KubeletPS.Core.Pods.Objects;
using KubeletPS.Core.Pods.Token;
using KubeletPS.Core.Pods.Validation;

namespace KubeletPS.Core.Pods.Volumes;

/// <summary>A container cannot be created as its spec says (kubelet's CreateContainerConfigError).</summary>
public sealed class ContainerConfigException(string message) : Exception(message);

/// <summary>
/// The pod's volumes on the node (a small volume manager): emptyDir under
/// <c>{root}/pods/{uid}/volumes/kubernetes.io~empty-dir/NAME</c> and hostPath with kubelet's type
/// checks; configMap, secret, downwardAPI and projected volumes written under
/// <c>{root}/pods/{uid}/volumes/kubernetes.io~configmap|secret|downward-api|projected/NAME</c> by
/// the <see cref="AtomicVolumeWriter"/> at each sync (so updates, and refreshed service account
/// tokens, reach running containers through the <c>..data</c> swap) when the agent has an API
/// server; secret and projected volumes, and emptyDir medium Memory, on a tmpfs
/// (<see cref="MemoryBackedVolumes"/>). Without one (standalone), and for static pods, which may not refer to API
/// objects, volumes that need the API are refused with a reason rather than mounted empty.
/// </summary>
public sealed class PodVolumes(string rootDirectory, IPodConfigObjects? objects = null, ServiceAccountTokenManager? tokens = null)
{
    /// <summary>Kubelet's default for a projected serviceAccountToken source's expirationSeconds.</summary>
    public const long DefaultTokenExpirationSeconds = 3600;

    /// <summary>The shortest token lifetime the API accepts (10 minutes).</summary>
    public const long MinTokenExpirationSeconds = 600;

    private const int DefaultMode = 420; // 0644

    /// <summary>The service account tokens of projected volumes; none without an API server.</summary>
    public ServiceAccountTokenManager? Tokens { get; } = tokens ?? (objects is null ? null : new ServiceAccountTokenManager(objects.CreateServiceAccountToken));

    /// <summary>The node's allocatable resources: what a resourceFieldRef to a limit the container does not set reads.</summary>
    public Func<IReadOnlyDictionary<string, ResourceQuantity>> NodeAllocatable { get; init; } = DownwardApi.MachineCapacity;

    private readonly MemoryBackedVolumes _memory = new();

    public string PodDirectory(string uid) => Path.Combine(rootDirectory, "pods", uid);

    public string EmptyDirPath(string uid, string name) => Path.Combine(PodDirectory(uid), "volumes", "kubernetes.io~empty-dir", name);

    /// <summary>The pod is gone: its cached service account tokens go too (its directory is removed by the caller).</summary>
    public void ForgetPod(string uid)
    {
        Tokens?.DeleteServiceAccountTokens(uid);
        _memory.ForgetPod(PodDirectory(uid));
    }

    /// <summary>
    /// Volume kinds kubelet always mounts read-only into containers, whatever the volumeMount says
    /// (their content comes from the API; a container must not change it for the others or for
    /// the next sync): configMap, secret, downwardAPI and projected.
    /// </summary>
    public static bool IsAlwaysReadOnly(V1Volume volume) =>
        volume.ConfigMap is not null || volume.Secret is not null || volume.DownwardAPI is not null || volume.Projected is not null;

    /// <summary>Whether the pod's volume <paramref name="name"/> is mounted read-only whatever its volumeMount says.</summary>
    public static bool IsAlwaysReadOnly(V1Pod pod, string name) =>
        pod.Spec.Volumes?.FirstOrDefault(v => v.Name == name) is { } volume && IsAlwaysReadOnly(volume);

    /// <summary>Sets up every volume of the pod; returns volume name → host path.</summary>
    public IReadOnlyDictionary<string, string> Prepare(V1Pod pod)
    {
        var uid = pod.Metadata.Uid;
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var volume in pod.Spec.Volumes ?? [])
        {
            if (volume.EmptyDir is { } emptyDir)
            {
                var dir = EmptyDirPath(uid, volume.Name);
                if (emptyDir.Medium == "Memory") _memory.EnsureTmpfs(volume.Name, dir, MemoryBackedVolumes.SizeFor(pod, emptyDir.SizeLimit, NodeAllocatable()));
                else if (!string.IsNullOrEmpty(emptyDir.Medium))
                    throw new ContainerConfigException($"volume \"{volume.Name}\": emptyDir medium {emptyDir.Medium} is not supported by this agent.");
                Directory.CreateDirectory(dir);
                // Kubelet makes emptyDir world-writable so any runAsUser can use it (setupDir): only
                // the permission bits, so the setgid bit fsGroup ownership set at creation survives
                // the next sync.
                EnsurePermissions(dir, 0x1FF);
                paths[volume.Name] = dir;
            }
            else if (volume.HostPath is { } hostPath)
            {
                CheckHostPath(volume.Name, hostPath.Path, hostPath.Type ?? "");
                paths[volume.Name] = hostPath.Path;
            }
            else if (volume.ConfigMap is { } configMap)
            {
                var files = new Dictionary<string, FileProjection>(StringComparer.Ordinal);
                ProjectConfigMap(pod, volume.Name, configMap.Name, configMap.Items, configMap.DefaultMode ?? DefaultMode, configMap.Optional == true, files);
                paths[volume.Name] = WriteVolume(pod, "kubernetes.io~configmap", volume.Name, files, memoryBacked: false);
            }
            else if (volume.Secret is { } secret)
            {
                var files = new Dictionary<string, FileProjection>(StringComparer.Ordinal);
                ProjectSecret(pod, volume.Name, secret.SecretName, secret.Items, secret.DefaultMode ?? DefaultMode, secret.Optional == true, files);
                paths[volume.Name] = WriteVolume(pod, "kubernetes.io~secret", volume.Name, files, memoryBacked: true);
            }
            else if (volume.DownwardAPI is { } downward)
            {
                var files = new Dictionary<string, FileProjection>(StringComparer.Ordinal);
                ProjectDownwardApi(pod, volume.Name, downward.Items, downward.DefaultMode ?? DefaultMode, files);
                paths[volume.Name] = WriteVolume(pod, "kubernetes.io~downward-api", volume.Name, files, memoryBacked: false);
            }
            else if (volume.Projected is { } projected)
            {
                // Kubelet's projected plugin wraps a Memory emptyDir: its tokens and secrets stay off the disk.
                paths[volume.Name] = WriteVolume(pod, "kubernetes.io~projected", volume.Name, Project(pod, volume.Name, projected), memoryBacked: true);
            }
            else
            {
                var kind = PodValidation.VolumeKind(volume) ?? "(none)";
                throw new ContainerConfigException($"volume \"{volume.Name}\": {kind} volumes are not supported by this agent yet.");
            }
        }
        if (!OperatingSystem.IsWindows()) VolumeOwnership.Apply(pod, paths);
        return paths;
    }

    /// <summary>
    /// A projected volume's files (pkg/volume/projected collectData): every source into one
    /// directory, with the volume's defaultMode unless an item sets its own mode. The errors of
    /// all sources are reported together.
    /// </summary>
    private Dictionary<string, FileProjection> Project(V1Pod pod, string volume, V1ProjectedVolumeSource projected)
    {
        var files = new Dictionary<string, FileProjection>(StringComparer.Ordinal);
        var defaultMode = projected.DefaultMode ?? DefaultMode;
        var errors = new List<string>();
        foreach (var source in projected.Sources ?? [])
        {
            try
            {
                if (source.ConfigMap is { } configMap)
                    ProjectConfigMap(pod, volume, configMap.Name, configMap.Items, defaultMode, configMap.Optional == true, files);
                else if (source.Secret is { } secret)
                    ProjectSecret(pod, volume, secret.Name, secret.Items, defaultMode, secret.Optional == true, files);
                else if (source.DownwardAPI is { } downward)
                    ProjectDownwardApi(pod, volume, downward.Items, defaultMode, files);
                else if (source.ServiceAccountToken is { } token)
                    ProjectServiceAccountToken(pod, volume, token, defaultMode, files);
                else if (source.ClusterTrustBundle is { } bundle)
                    throw new ContainerConfigException($"volume \"{volume}\": clusterTrustBundle sources ({bundle.Name ?? bundle.SignerName}) are not supported by this agent.");
                else
                    throw new ContainerConfigException($"volume \"{volume}\": a projected source of a kind this agent does not know.");
            }
            catch (ContainerConfigException e)
            {
                errors.Add(e.Message);
            }
        }
        if (errors.Count > 0) throw new ContainerConfigException(string.Join("; ", errors));
        return files;
    }

    private void ProjectConfigMap(V1Pod pod, string volume, string name, IList<V1KeyToPath>? items, int defaultMode, bool optional,
        Dictionary<string, FileProjection> files)
    {
        var data = ApiObjects(pod, volume, $"configmap \"{name}\"").GetConfigMap(pod.Namespace() ?? "default", name);
        if (data is null && !optional) throw new ContainerConfigException($"volume \"{volume}\": configmap \"{name}\" not found");
        Project(volume, data ?? new Dictionary<string, byte[]>(), items, defaultMode, optional, files);
    }

    private void ProjectSecret(V1Pod pod, string volume, string name, IList<V1KeyToPath>? items, int defaultMode, bool optional,
        Dictionary<string, FileProjection> files)
    {
        var data = ApiObjects(pod, volume, $"secret \"{name}\"").GetSecret(pod.Namespace() ?? "default", name);
        if (data is null && !optional) throw new ContainerConfigException($"volume \"{volume}\": secret \"{name}\" not found");
        Project(volume, data ?? new Dictionary<string, byte[]>(), items, defaultMode, optional, files);
    }

    /// <summary>downwardapi.CollectData: each item's fieldRef or resourceFieldRef at its path, with its mode or the default.</summary>
    private void ProjectDownwardApi(V1Pod pod, string volume, IList<V1DownwardAPIVolumeFile>? items, int defaultMode,
        Dictionary<string, FileProjection> files)
    {
        foreach (var item in items ?? [])
        {
            string value;
            try
            {
                value = item switch
                {
                    { FieldRef: { } field } => DownwardValue(pod, field.FieldPath),
                    { ResourceFieldRef: { } resource } => DownwardApi.ResourceField(pod, resource, NodeAllocatable()),
                    _ => throw new ContainerConfigException("an item needs a fieldRef or a resourceFieldRef"),
                };
            }
            catch (ContainerConfigException e)
            {
                throw new ContainerConfigException($"volume \"{volume}\": downwardAPI item {item.Path}: {e.Message}");
            }
            files[CheckedPath(volume, item.Path)] = new FileProjection(System.Text.Encoding.UTF8.GetBytes(value), item.Mode ?? defaultMode);
        }
    }

    /// <summary>
    /// A serviceAccountToken source: a token for the pod's service account from the token manager,
    /// bound to the pod, for the source's audience (none: the API server's) and lifetime.
    /// </summary>
    private void ProjectServiceAccountToken(V1Pod pod, string volume, V1ServiceAccountTokenProjection source, int defaultMode,
        Dictionary<string, FileProjection> files)
    {
        var serviceAccount = string.IsNullOrEmpty(pod.Spec.ServiceAccountName) ? "default" : pod.Spec.ServiceAccountName;
        var what = $"serviceAccountToken of serviceaccount \"{serviceAccount}\"";
        ApiObjects(pod, volume, what);
        var expiration = source.ExpirationSeconds ?? DefaultTokenExpirationSeconds;
        if (expiration < MinTokenExpirationSeconds)
            throw new ContainerConfigException($"volume \"{volume}\": {what}: expirationSeconds {expiration} is less than 10 minutes ({MinTokenExpirationSeconds} s)");
        var request = new ServiceAccountTokenRequest(pod.Namespace() ?? "default", serviceAccount,
            string.IsNullOrEmpty(source.Audience) ? [] : [source.Audience], expiration, pod.Name(), pod.Metadata.Uid);
        ServiceAccountToken token;
        try
        {
            token = Tokens!.GetServiceAccountToken(request);
        }
        catch (ContainerConfigException e)
        {
            throw new ContainerConfigException($"volume \"{volume}\": {what}: {e.Message}");
        }
        files[CheckedPath(volume, source.Path)] = new FileProjection(System.Text.Encoding.UTF8.GetBytes(token.Token), defaultMode);
    }

    /// <summary>The API objects, for a pod that may use them: none without an API server, none for static pods.</summary>
    private IPodConfigObjects ApiObjects(V1Pod pod, string volume, string what)
    {
        if (objects is null)
            throw new ContainerConfigException($"volume \"{volume}\": {what} needs the API server; a standalone kubelet cannot fill it.");
        if (MirrorPods.IsStaticPod(pod))
            throw new ContainerConfigException($"volume \"{volume}\": {what}: {MirrorPods.StaticPodApiObjectsRefused}.");
        return objects;
    }

    /// <summary>
    /// A configMap or secret (configmap.MakePayload): every key, or only the listed items at their
    /// paths, with <paramref name="defaultMode"/> or the item's mode.
    /// </summary>
    private static void Project(string volume, IReadOnlyDictionary<string, byte[]> data, IList<V1KeyToPath>? items, int defaultMode, bool optional,
        Dictionary<string, FileProjection> files)
    {
        if (items is { Count: > 0 })
        {
            foreach (var item in items)
            {
                if (!data.TryGetValue(item.Key, out var content))
                {
                    if (optional) continue;
                    throw new ContainerConfigException($"volume \"{volume}\": key \"{item.Key}\" not found");
                }
                files[CheckedPath(volume, item.Path)] = new FileProjection(content, item.Mode ?? defaultMode);
            }
        }
        else
        {
            foreach (var (key, content) in data) files[CheckedPath(volume, key)] = new FileProjection(content, defaultMode);
        }
    }

    private static string CheckedPath(string volume, string relative)
    {
        if (string.IsNullOrEmpty(relative) || Path.IsPathRooted(relative) || relative.Split('/').Contains(".."))
            throw new ContainerConfigException($"volume \"{volume}\": path \"{relative}\" must be relative and must not contain '..'");
        return relative;
    }

    /// <summary>
    /// Writes a volume's files with the atomic writer (only when they changed); a memory-backed
    /// volume's directory is made a tmpfs first, so nothing of it is ever written to the disk.
    /// </summary>
    private string WriteVolume(V1Pod pod, string plugin, string volume, IReadOnlyDictionary<string, FileProjection> files, bool memoryBacked)
    {
        var dir = Path.Combine(PodDirectory(pod.Metadata.Uid), "volumes", plugin, volume);
        if (memoryBacked) _memory.EnsureTmpfs(volume, dir, MemoryBackedVolumes.SizeFor(pod, null, NodeAllocatable()));
        else Directory.CreateDirectory(dir);
        try
        {
            new AtomicVolumeWriter(dir).Write(files);
        }
        catch (ArgumentException e)
        {
            throw new ContainerConfigException($"volume \"{volume}\": {e.Message}");
        }
        return dir;
    }

    /// <summary>The fields a downwardAPI volume item may name: the pod's metadata (and, as before, its node and service account).</summary>
    private static string DownwardValue(V1Pod pod, string fieldPath) => DownwardApi.MetadataField(pod, fieldPath) ?? fieldPath switch
    {
        "spec.nodeName" => pod.Spec.NodeName ?? "",
        "spec.serviceAccountName" => pod.Spec.ServiceAccountName ?? "",
        _ => throw new ContainerConfigException($"field {fieldPath} is not supported"),
    };

    /// <summary>hostPath type checks (pkg/volume/hostpath): create or require what the type names.</summary>
    public static void CheckHostPath(string volume, string path, string type)
    {
        string Fail(string what) => throw new ContainerConfigException($"volume \"{volume}\": hostPath type check failed: {path} {what}");
        switch (type)
        {
            case "":
                return;
            case "DirectoryOrCreate":
                if (File.Exists(path)) Fail("is not a directory");
                if (!Directory.Exists(path))
                {
                    Directory.CreateDirectory(path);
                    SetMode(path, 0x1ED); // 0755
                }
                return;
            case "Directory":
                if (!Directory.Exists(path)) Fail("is not a directory");
                return;
            case "FileOrCreate":
                if (Directory.Exists(path)) Fail("is not a file");
                if (!File.Exists(path))
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    File.WriteAllBytes(path, []);
                    SetMode(path, 0x1A4); // 0644
                }
                return;
            case "File":
                if (!File.Exists(path)) Fail("is not a file");
                return;
            case "Socket" or "CharDevice" or "BlockDevice":
                var info = new FileInfo(path);
                if (!info.Exists && !Directory.Exists(path)) Fail($"is not a {type}");
                var ok = type switch
                {
                    "Socket" => IsKind(path, 's'),
                    "CharDevice" => IsKind(path, 'c'),
                    _ => IsKind(path, 'b'),
                };
                if (!ok) Fail($"is not a {type}");
                return;
            default:
                Fail($"has an unknown hostPath type {type}");
                return;
        }
    }

    private static void EnsurePermissions(string path, int permissions)
    {
        if (OperatingSystem.IsWindows()) return;
        var current = (int)File.GetUnixFileMode(path);
        var wanted = (current & ~0x1FF) | permissions;
        if (current != wanted) File.SetUnixFileMode(path, (UnixFileMode)wanted);
    }

    internal static void SetMode(string path, int mode)
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, (UnixFileMode)mode);
    }

    private static bool IsKind(string path, char kind)
    {
        // .NET has no file type for sockets and devices on Linux; stat(1) names it.
        try
        {
            var mode = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-L", "-c", "%F", path]) { RedirectStandardOutput = true });
            var text = mode!.StandardOutput.ReadToEnd();
            mode.WaitForExit();
            return kind switch
            {
                's' => text.Contains("socket", StringComparison.Ordinal),
                'c' => text.Contains("character special", StringComparison.Ordinal),
                _ => text.Contains("block special", StringComparison.Ordinal),
            };
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
