using KubeletPS.Core.Agent;
using KubeletPS.Core.Configuration;

namespace KubeletPS.Core.Tests.Configuration;

/// <summary>The image pull fields: kubelet's validation messages, and the values reaching the pod engine.</summary>
public sealed class ImagePullFieldsTests
{
    private static KubeletConfiguration Parse(string fields) =>
        KubeletConfigurationFile.Parse("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n" + fields, "/etc/kubelet/config.yaml", null, out _);

    [Theory]
    [InlineData("maxParallelImagePulls: 0\nserializeImagePulls: false\n", "maxParallelImagePulls", "invalid configuration: maxParallelImagePulls 0 must be a positive number")]
    [InlineData("maxParallelImagePulls: 3\nserializeImagePulls: true\n", "maxParallelImagePulls", "invalid configuration: maxParallelImagePulls cannot be larger than 1 unless SerializeImagePulls (--serialize-image-pulls) is set to false")]
    [InlineData("registryPullQPS: -1\n", "registryPullQPS", "invalid configuration: registryPullQPS (--registry-qps) -1 must not be a negative number")]
    [InlineData("registryBurst: -2\n", "registryBurst", "invalid configuration: registryBurst (--registry-burst) -2 must not be a negative number")]
    public void Out_of_range_pull_fields_are_refused_with_kubelets_message(string fields, string field, string message)
    {
        var e = Assert.Throws<KubeletConfigException>(() => Parse(fields));
        Assert.Equal(field, e.Field);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_pull_fields_reach_the_pod_engine_with_kubelets_defaults()
    {
        var defaults = PodSyncAgentOptions.FromConfiguration(Parse(""), "n");
        Assert.Equal((true, (int?)null, 5d, 10), (defaults.SerializeImagePulls, defaults.MaxParallelImagePulls, defaults.RegistryPullQps, defaults.RegistryBurst));
        var set = PodSyncAgentOptions.FromConfiguration(Parse("maxParallelImagePulls: 4\nregistryPullQPS: 0\nregistryBurst: 3\n"), "n");
        Assert.Equal((false, (int?)4, 0d, 3), (set.SerializeImagePulls, set.MaxParallelImagePulls, set.RegistryPullQps, set.RegistryBurst));
        foreach (var field in new[] { "serializeImagePulls", "maxParallelImagePulls", "registryPullQPS", "registryBurst" })
            Assert.True(KubeletConfigurationSupport.IsInEffect(field), field);
    }
}
