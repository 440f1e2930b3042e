using k8s;
using k8s.Models;
using KubeletPS.Core.Metrics;
using KubeletPS.Core.Pods.Eviction;
using KubeletPS.Core.Stats;
using Microsoft.Extensions.Time.Testing;

namespace KubeletPS.Core.Tests.Pods.Eviction;

/// <summary>
/// The eviction manager's ephemeral-storage limit checks (kubelet's podEphemeralStorageLimitEviction and
/// containerEphemeralStorageLimitEviction) over fake pod stats: which limit evicts, with kubelet's messages and signals.
/// </summary>
public sealed class EphemeralStorageLimitsTests
{
    private const long Mi = 1L << 20;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeSignalSource _signals = new();
    private readonly FakePodEvictor _evictor = new();
    private readonly KubeletMetricSet _metrics = new();

    private static V1Pod Pod(string name, params (string Name, string? Limit)[] containers)
    {
        var specs = containers.Select(c => "{\"name\":\"" + c.Name + "\",\"image\":\"busybox\",\"resources\":"
            + (c.Limit is null ? "{}" : "{\"limits\":{\"ephemeral-storage\":\"" + c.Limit + "\"}}") + "}");
        return KubernetesJson.Deserialize<V1Pod>("{\"metadata\":{\"name\":\"" + name + "\",\"namespace\":\"default\",\"uid\":\"" + name + "\"},"
            + "\"spec\":{\"containers\":[" + string.Join(",", specs) + "]},\"status\":{\"phase\":\"Running\"}}");
    }

    /// <summary>Stats as the stats provider gives them: per container writable layer and logs, the pod's ephemeral storage in all.</summary>
    private void Stats(V1Pod pod, long podEphemeral, params (long Rootfs, long Logs)[] containers)
    {
        _signals.SetPod(pod, workingSet: Mi);
        var stats = _signals.Pods[pod.Metadata.Uid];
        for (var i = 0; i < containers.Length; i++)
        {
            stats.Containers![i].Rootfs = new FsStats { UsedBytes = (ulong)containers[i].Rootfs };
            stats.Containers[i].Logs = new FsStats { UsedBytes = (ulong)containers[i].Logs };
        }
        stats.EphemeralStorage = new FsStats { UsedBytes = (ulong)podEphemeral };
    }

    private async Task<IReadOnlyList<V1Pod>> RoundAsync(V1Pod pod, bool isolation = true) =>
        await new EvictionManager(new EvictionConfig { LocalStorageCapacityIsolation = isolation }, _signals, _clock, NullKubeletLog.Instance) { Metrics = _metrics }
            .SynchronizeAsync([pod], null, _evictor, CancellationToken.None);

    [Fact]
    public async Task A_container_over_its_own_limit_evicts_the_pod_with_kubelets_container_message_when_the_pod_is_under_the_sum()
    {
        var pod = Pod("writer", ("writer", "1Mi"), ("idle", "64Mi"));
        Stats(pod, 3 * Mi, (2 * Mi, 512 * 1024), (0, 0));

        Assert.Single(await RoundAsync(pod));

        var (name, grace, message) = Assert.Single(_evictor.Evicted);
        Assert.Equal(("writer", 1L, "Container writer exceeded its local ephemeral storage limit \"1Mi\". "), (name, grace, message));
        Assert.Equal(1, _metrics.Evictions.Value(EvictionSignals.EphemeralContainerFsLimit));
    }

    [Theory]
    [InlineData("1Mi", null, "1Mi")]
    [InlineData("1Mi", "1Mi", "2Mi")]
    [InlineData("500M", "500M", "1G")]
    public async Task A_pod_over_the_sum_of_its_containers_limits_is_evicted_with_kubelets_pod_message_first(string first, string? second, string sum)
    {
        var pod = second is null ? Pod("big", ("a", first)) : Pod("big", ("a", first), ("b", second));
        Stats(pod, 2L << 30, second is null ? [(0, 0)] : [(0, 0), (0, 0)]);

        Assert.Single(await RoundAsync(pod));

        Assert.Equal($"Pod ephemeral local storage usage exceeds the total limit of containers {sum}. ", Assert.Single(_evictor.Evicted).Message);
        Assert.Equal(1, _metrics.Evictions.Value(EvictionSignals.EphemeralPodFsLimit));
    }

    [Fact]
    public async Task With_a_dedicated_image_file_system_only_the_logs_count_for_a_container()
    {
        _signals.DedicatedImageFs = true;
        var pod = Pod("layered", ("main", "1Mi"), ("idle", "64Mi"));
        Stats(pod, 3 * Mi, (2 * Mi, 512 * 1024), (0, 0));
        Assert.Empty(await RoundAsync(pod));

        Stats(pod, 3 * Mi, (0, 2 * Mi), (0, 0));
        Assert.Single(await RoundAsync(pod));
    }

    [Fact]
    public async Task Nothing_is_evicted_without_a_limit_under_the_limits_or_with_localStorageCapacityIsolation_false()
    {
        var unlimited = Pod("unlimited", ("main", null));
        Stats(unlimited, 3L << 30, (3L << 30, 0));
        Assert.Empty(await RoundAsync(unlimited));

        var under = Pod("under", ("main", "8Mi"));
        Stats(under, 4 * Mi, (3 * Mi, Mi));
        Assert.Empty(await RoundAsync(under));

        var over = Pod("over", ("main", "1Mi"), ("idle", "64Mi"));
        Stats(over, 3 * Mi, (2 * Mi, 0), (0, 0));
        Assert.Empty(await RoundAsync(over, isolation: false));
        Assert.Empty(_evictor.Evicted);
    }
}
