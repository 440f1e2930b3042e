using k8s;
using k8s.Models;

namespace KubeletPS.Core.Pods.Status;

/// <summary>
/// The pods this node runs, with their latest status, kept under the kubelet root directory
/// (<c>{root}/pods/{uid}/kubeletps-pod.json</c>, beside the pod's volumes, as kubelet keeps its
/// per-pod state). The agent writes it whenever a status changes; Get-KubeletPod and a restarted
/// agent read it. Writes are atomic (temporary file, then rename), so a reader never sees half a file.
/// </summary>
public sealed class LocalPodStatusStore(string rootDirectory)
{
    public const string FileName = "kubeletps-pod.json";

    public string RootDirectory { get; } = rootDirectory;

    public string PodDirectory(string uid) => Path.Combine(RootDirectory, "pods", uid);

    public void Save(V1Pod pod)
    {
        var uid = pod.Metadata?.Uid ?? throw new ArgumentException("The pod has no metadata.uid.", nameof(pod));
        var dir = PodDirectory(uid);
        Directory.CreateDirectory(dir);
        var target = Path.Combine(dir, FileName);
        var temporary = target + ".tmp";
        File.WriteAllText(temporary, KubernetesJson.Serialize(pod));
        File.Move(temporary, target, overwrite: true);
    }

    public V1Pod? Load(string uid)
    {
        var file = Path.Combine(PodDirectory(uid), FileName);
        try
        {
            var pod = Api.KubeObjects.FromJson<V1Pod>(File.ReadAllText(file));
            // As a static pod's: a quantity beyond what the client library prints (1e1000) is given as the cap.
            Cm.QuantityValues.CapPodQuantities(pod);
            return pod;
        }
        // A file damaged on disk or edited by hand is skipped as a missing one is: it must not stop a restarted agent or Get-KubeletPod.
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or System.Text.Json.JsonException or FormatException)
        {
            return null;
        }
    }

    public IReadOnlyList<V1Pod> List()
    {
        var pods = new List<V1Pod>();
        var dir = Path.Combine(RootDirectory, "pods");
        if (!Directory.Exists(dir)) return pods;
        foreach (var podDir in Directory.EnumerateDirectories(dir))
        {
            if (Load(Path.GetFileName(podDir)) is { } pod) pods.Add(pod);
        }
        return pods;
    }

    /// <summary>Forgets a pod whose containers and sandbox are gone (its volumes' folders are the pod worker's to remove).</summary>
    public void Delete(string uid)
    {
        var file = Path.Combine(PodDirectory(uid), FileName);
        if (File.Exists(file)) File.Delete(file);
    }
}
