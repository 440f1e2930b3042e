using k8s;
using k8s.Models;
using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Pods.Manager;
using KubeletPS.Core.Pods.Volumes;

namespace KubeletPS.Core.Tests.Pods.Eviction;

/// <summary>The emptyDir sizeLimit check on a temporary root: what is counted, what evicts, and who is never evicted.</summary>
public sealed class EmptyDirLimitsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kubeletps-emptydir-").FullName;
    private readonly PodVolumes _volumes;
    private readonly EmptyDirLimits _limits;

    public EmptyDirLimitsTests()
    {
        _volumes = new PodVolumes(_root);
        _limits = new EmptyDirLimits(_volumes, NullKubeletLog.Instance);
    }

    public void Dispose() => HostMounts.RemoveDirectory(_root);

    private static V1Pod Pod(string uid, string sizeLimit, string annotations = "{}") => KubernetesJson.Deserialize<V1Pod>("""
        {"metadata":{"name":"NAME","namespace":"default","uid":"NAME","annotations":ANNOTATIONS},
         "spec":{"containers":[{"name":"main","image":"busybox"}],"volumes":[{"name":"scratch","emptyDir":{"sizeLimit":"LIMIT"}}]},
         "status":{"phase":"Running"}}
        """.Replace("NAME", uid).Replace("LIMIT", sizeLimit).Replace("ANNOTATIONS", annotations));

    private string Fill(V1Pod pod, int bytes)
    {
        _volumes.Prepare(pod);
        var dir = _volumes.EmptyDirPath(pod.Metadata.Uid, "scratch");
        File.WriteAllBytes(Path.Combine(dir, "fill"), new byte[bytes]);
        return dir;
    }

    [Fact]
    public void A_pod_whose_emptyDir_holds_more_than_its_sizeLimit_is_evicted_with_kubelets_message()
    {
        var over = Pod("over", "1Mi");
        Fill(over, 2 << 20);
        var under = Pod("under", "4Mi");
        Fill(under, 2 << 20);

        var eviction = Assert.Single(_limits.Check([over, under]));
        Assert.Same(over, eviction.Pod);
        Assert.Equal("Evicted", eviction.Reason);
        Assert.Equal("Usage of EmptyDir volume \"scratch\" exceeds the limit \"1Mi\". ", eviction.Message);
    }

    [Fact]
    public void A_symlink_to_a_large_file_outside_the_volume_is_not_counted_and_a_sparse_file_counts_its_allocated_blocks()
    {
        var pod = Pod("linked", "1Mi");
        var dir = Fill(pod, 0);
        var outside = Path.Combine(_root, "big");
        File.WriteAllBytes(outside, new byte[4 << 20]);
        File.CreateSymbolicLink(Path.Combine(dir, "link"), outside);
        using (var sparse = File.Create(Path.Combine(dir, "sparse"))) sparse.SetLength(64L << 20);

        Assert.Empty(_limits.Check([pod]));
        Assert.True(FileSystemStats.DiskUsage(dir) < 1 << 20, $"{FileSystemStats.DiskUsage(dir)} bytes counted");
    }

    [Fact]
    public void A_static_pod_and_a_finished_pod_are_never_evicted()
    {
        var staticPod = Pod("static", "1Mi", """{"kubernetes.io/config.source":"file"}""");
        Fill(staticPod, 2 << 20);
        var finished = Pod("finished", "1Mi");
        Fill(finished, 2 << 20);
        finished.Status.Phase = "Failed";

        Assert.True(MirrorPods.IsStaticPod(staticPod));
        Assert.Empty(_limits.Check([staticPod, finished]));
    }
}
