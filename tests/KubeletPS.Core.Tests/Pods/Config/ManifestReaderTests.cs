using k8s.Models;
using KubeletPS.Core.Pods.Config;

namespace KubeletPS.Core.Tests.Pods.Config;

/// <summary>YAML scalars read as kubelet's YAML 1.1 reader (go-yaml v2) reads them.</summary>
public sealed class ManifestReaderTests
{
    [Theory]
    [InlineData("0600", 384L)]
    [InlineData("0644", 420L)]
    [InlineData("0o17", 15L)]
    [InlineData("0x1F", 31L)]
    [InlineData("0b101", 5L)]
    [InlineData("1_000", 1000L)]
    [InlineData("-42", -42L)]
    [InlineData("+7", 7L)]
    [InlineData("0", 0L)]
    public void Plain_integers_follow_go_yaml_v2(string text, long expected) => Assert.Equal(expected, ManifestReader.YamlInteger(text));

    [Theory]
    [InlineData("08")]
    [InlineData("0x")]
    [InlineData("1.5")]
    [InlineData("--1")]
    [InlineData("99999999999999999999")]
    [InlineData("abc")]
    public void What_is_not_an_integer_is_not_read_as_one(string text) => Assert.Null(ManifestReader.YamlInteger(text));

    [Fact]
    public void A_file_mode_written_in_octal_is_the_mode_it_says()
    {
        var (pod, unknown) = ManifestReader.Read<V1Pod>("""
            apiVersion: v1
            kind: Pod
            metadata: {name: web}
            spec:
              containers: [{name: main, image: busybox}]
              volumes:
              - name: info
                downwardAPI:
                  defaultMode: 0600
                  items: [{path: name, mode: 0400, fieldRef: {fieldPath: metadata.name}}]
            """, "/etc/kubernetes/manifests/web.yaml");
        Assert.Empty(unknown);
        Assert.Equal(384, pod.Spec.Volumes[0].DownwardAPI.DefaultMode);
        Assert.Equal(256, pod.Spec.Volumes[0].DownwardAPI.Items[0].Mode);
    }
}
