using k8s.Models;
using KubeletPS.Core.Pods.Status;

namespace KubeletPS.Core.Tests.Pods.Status;

/// <summary>
/// The agent's own pod files under the kubelet root, read back by Get-KubeletPod and by a restarted agent. A file damaged on
/// disk or edited by hand must not hang or stop either: a quantity the client library cannot parse in time is capped as an
/// API pod's is, and a file that cannot be read as a pod is skipped, as a truncated one already was.
/// </summary>
public sealed class LocalPodStatusStoreTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("kps-podstore-");

    public void Dispose() => _root.Delete(recursive: true);

    private LocalPodStatusStore Store => new(_root.FullName);

    private void WriteFile(string uid, string cpu)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root.FullName, "pods", uid));
        File.WriteAllText(Path.Combine(dir.FullName, LocalPodStatusStore.FileName),
            "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"" + uid + "\",\"namespace\":\"default\",\"uid\":\"" + uid + "\"}," +
            "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\",\"resources\":{\"requests\":{\"cpu\":\"" + cpu + "\"}}}]}}");
    }

    private static V1Pod Pod(string uid) => new()
    {
        Metadata = new V1ObjectMeta { Name = uid, NamespaceProperty = "default", Uid = uid },
        Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "busybox" }] },
    };

    [Theory]
    [InlineData("1e99999999")]
    [InlineData("99999999999999999999999999999")]
    public async Task A_file_with_a_huge_quantity_is_read_back_capped_without_hanging(string cpu)
    {
        WriteFile("huge", cpu);
        WriteFile("fine", "250m");

        var read = Task.Run(() => Store.List());
        var finished = await Task.WhenAny(read, Task.Delay(TimeSpan.FromMinutes(1)));

        Assert.True(finished == read, $"reading a pod file with cpu {cpu} did not return in a minute");
        var pods = (await read).ToDictionary(p => p.Metadata.Uid);
        Assert.Equal(["fine", "huge"], pods.Keys.Order());
        Assert.Equal("250m", pods["fine"].Spec.Containers[0].Resources.Requests["cpu"].ToString());
        Assert.True(pods["huge"].Spec.Containers[0].Resources.Requests["cpu"].ToDecimal() > 1_000_000_000_000m);
    }

    [Theory]
    [InlineData("a lot")]
    [InlineData("12Qi")]
    public void A_file_with_a_quantity_that_is_not_one_is_skipped_and_the_others_are_listed(string cpu)
    {
        WriteFile("bad", cpu);
        Store.Save(Pod("good"));

        var pods = Store.List();

        Assert.Equal(["good"], pods.Select(p => p.Metadata.Uid));
        Assert.Null(Store.Load("bad"));
    }

    [Fact]
    public void A_pod_saved_is_loaded_back_and_a_truncated_file_is_skipped()
    {
        Store.Save(Pod("kept"));
        var truncated = Path.Combine(_root.FullName, "pods", "cut", LocalPodStatusStore.FileName);
        Directory.CreateDirectory(Path.GetDirectoryName(truncated)!);
        File.WriteAllText(truncated, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"na");

        Assert.Equal("kept", Store.Load("kept")?.Metadata.Name);
        Assert.Equal(["kept"], Store.List().Select(p => p.Metadata.Uid));
    }
}
