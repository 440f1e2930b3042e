using k8s.Models;

namespace KubeletPS.Core.Pods;

/// <summary>A container cannot be created as its spec says (kubelet's CreateContainerConfigError).</summary>
public sealed class ContainerConfigException(string message) : Exception(message);

/// <summary>
/// The pod's volumes on the node (a small volume manager): emptyDir under
/// <c>{root}/pods/{uid}/volumes/kubernetes.io~empty-dir/NAME</c> and hostPath with kubelet's type
/// checks. Sources that need the API server (configMap, secret, projected, downwardAPI) are refused
/// in standalone mode with a reason rather than mounted empty.
/// </summary>
public sealed class PodVolumes(string rootDirectory)
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
            else
            {
                var kind = PodValidation.VolumeKind(volume) ?? "(none)";
                throw new ContainerConfigException($"volume \"{volume.Name}\": {kind} volumes need the API server; a standalone kubelet cannot fill them.");
            }
        }
        return paths;
    }

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
