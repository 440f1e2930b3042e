using k8s.Models;

namespace KubeletPS.Core.Pods;

/// <summary>A container cannot be created as its spec says (kubelet's CreateContainerConfigError).</summary>
public sealed class ContainerConfigException(string message) : Exception(message);

/// <summary>
/// The pod's volumes on the node (a small volume manager): emptyDir under
/// <c>{root}/pods/{uid}/volumes/kubernetes.io~empty-dir/NAME</c> and hostPath with kubelet's type
/// checks; configMap, secret and downwardAPI volumes written under
/// <c>{root}/pods/{uid}/volumes/kubernetes.io~configmap|secret|downward-api/NAME</c> at each sync
/// (so updates reach the pod) when the agent has an API server. Without one (standalone) and for
/// projected volumes, they are refused with a reason rather than mounted empty.
/// </summary>
public sealed class PodVolumes(string rootDirectory, IPodConfigObjects? objects = null)
{
    public string PodDirectory(string uid) => Path.Combine(rootDirectory, "pods", uid);

    public string EmptyDirPath(string uid, string name) => Path.Combine(PodDirectory(uid), "volumes", "kubernetes.io~empty-dir", name);

    /// <summary>Sets up every volume of the pod; returns volume name → host path.</summary>
    public IReadOnlyDictionary<string, string> Prepare(V1Pod pod)
    {
        var uid = pod.Metadata.Uid;
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var volume in pod.Spec.Volumes ?? [])
        {
            if (volume.EmptyDir is { } emptyDir)
            {
                if (emptyDir.Medium == "Memory")
                    throw new ContainerConfigException($"volume \"{volume.Name}\": emptyDir medium Memory (tmpfs) is not supported by this agent.");
                var dir = EmptyDirPath(uid, volume.Name);
                Directory.CreateDirectory(dir);
                // Kubelet makes emptyDir world-writable so any runAsUser can use it.
                SetMode(dir, 0x1FF);
                paths[volume.Name] = dir;
            }
            else if (volume.HostPath is { } hostPath)
            {
                CheckHostPath(volume.Name, hostPath.Path, hostPath.Type ?? "");
                paths[volume.Name] = hostPath.Path;
            }
            else if (volume.ConfigMap is { } configMap && objects is not null)
            {
                var data = objects.GetConfigMap(pod.Namespace() ?? "default", configMap.Name);
                if (data is null && configMap.Optional != true)
                    throw new ContainerConfigException($"volume \"{volume.Name}\": configmap \"{configMap.Name}\" not found");
                paths[volume.Name] = WriteFiles(uid, "kubernetes.io~configmap", volume.Name, data ?? new Dictionary<string, byte[]>(), configMap.Items, configMap.DefaultMode ?? 420, configMap.Optional == true);
            }
            else if (volume.Secret is { } secret && objects is not null)
            {
                var data = objects.GetSecret(pod.Namespace() ?? "default", secret.SecretName);
                if (data is null && secret.Optional != true)
                    throw new ContainerConfigException($"volume \"{volume.Name}\": secret \"{secret.SecretName}\" not found");
                paths[volume.Name] = WriteFiles(uid, "kubernetes.io~secret", volume.Name, data ?? new Dictionary<string, byte[]>(), secret.Items, secret.DefaultMode ?? 420, secret.Optional == true);
            }
            else if (volume.DownwardAPI is { } downward)
            {
                var data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
                var items = new List<V1KeyToPath>();
                foreach (var item in downward.Items ?? [])
                {
                    if (item.FieldRef is null)
                        throw new ContainerConfigException($"volume \"{volume.Name}\": downwardAPI item {item.Path}: only fieldRef items are supported by this agent.");
                    data[item.Path] = System.Text.Encoding.UTF8.GetBytes(DownwardValue(pod, item.FieldRef.FieldPath, volume.Name));
                    items.Add(new V1KeyToPath { Key = item.Path, Path = item.Path, Mode = item.Mode });
                }
                paths[volume.Name] = WriteFiles(uid, "kubernetes.io~downward-api", volume.Name, data, items, downward.DefaultMode ?? 420, optional: false);
            }
            else
            {
                var kind = PodValidation.VolumeKind(volume) ?? "(none)";
                throw new ContainerConfigException(objects is null
                    ? $"volume \"{volume.Name}\": {kind} volumes need the API server; a standalone kubelet cannot fill them."
                    : $"volume \"{volume.Name}\": {kind} volumes are not supported by this agent yet.");
            }
        }
        return paths;
    }

    /// <summary>
    /// Writes a configMap/secret/downwardAPI volume: every key, or only the listed items at their
    /// paths, with defaultMode or the item's mode. Files no longer in the source are removed.
    /// </summary>
    private string WriteFiles(string uid, string plugin, string volume, IReadOnlyDictionary<string, byte[]> data,
        IList<V1KeyToPath>? items, int defaultMode, bool optional)
    {
        var dir = Path.Combine(PodDirectory(uid), "volumes", plugin, volume);
        Directory.CreateDirectory(dir);
        var wanted = new Dictionary<string, (byte[] Content, int Mode)>(StringComparer.Ordinal);
        if (items is { Count: > 0 })
        {
            foreach (var item in items)
            {
                if (!data.TryGetValue(item.Key, out var content))
                {
                    if (optional) continue;
                    throw new ContainerConfigException($"volume \"{volume}\": key \"{item.Key}\" not found");
                }
                wanted[item.Path] = (content, item.Mode ?? defaultMode);
            }
        }
        else
        {
            foreach (var (key, content) in data) wanted[key] = (content, defaultMode);
        }
        foreach (var (relative, (content, mode)) in wanted)
        {
            if (Path.IsPathRooted(relative) || relative.Split('/').Contains(".."))
                throw new ContainerConfigException($"volume \"{volume}\": path \"{relative}\" must be relative and must not contain '..'");
            var file = Path.Combine(dir, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            var temporary = file + ".tmp";
            File.WriteAllBytes(temporary, content);
            SetMode(temporary, mode);
            File.Move(temporary, file, overwrite: true);
        }
        foreach (var existing in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
        {
            if (!wanted.ContainsKey(Path.GetRelativePath(dir, existing))) File.Delete(existing);
        }
        return dir;
    }

    private static string DownwardValue(V1Pod pod, string fieldPath, string volume) => fieldPath switch
    {
        "metadata.name" => pod.Name(),
        "metadata.namespace" => pod.Namespace() ?? "default",
        "metadata.uid" => pod.Metadata.Uid,
        "metadata.labels" => string.Join("\n", (pod.Metadata.Labels ?? new Dictionary<string, string>()).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}=\"{p.Value}\"")),
        "metadata.annotations" => string.Join("\n", (pod.Metadata.Annotations ?? new Dictionary<string, string>()).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}=\"{p.Value}\"")),
        "spec.nodeName" => pod.Spec.NodeName ?? "",
        "spec.serviceAccountName" => pod.Spec.ServiceAccountName ?? "",
        _ => throw new ContainerConfigException($"volume \"{volume}\": downwardAPI field {fieldPath} is not supported"),
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
